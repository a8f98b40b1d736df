from commit_train.cli import main

main()
