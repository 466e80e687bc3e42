from vadkit.cli import main

main()
