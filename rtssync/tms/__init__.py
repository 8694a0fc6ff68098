"""The TMS side: one backend protocol, several implementations (DESIGN §5)."""
