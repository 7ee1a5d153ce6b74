from moor.daemon.main import main

main()
