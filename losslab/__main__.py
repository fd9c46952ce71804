from losslab.cli.app import main

main()
