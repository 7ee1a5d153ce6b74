from moor.cli.entry import main

main()
