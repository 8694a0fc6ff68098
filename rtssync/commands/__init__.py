"""One module per CLI command; each exports ``command``. Keep them thin: parse, call, print."""
