from rtssync.cli import main

main()
