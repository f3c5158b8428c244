from bolyst.cli import main

main()
