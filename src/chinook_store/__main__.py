from chinook_store.cli import main

main()
