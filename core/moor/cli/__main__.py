from moor.cli.main import main

main()
