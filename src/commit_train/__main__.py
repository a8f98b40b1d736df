from commit_train.faces.cli.main import main

main()
