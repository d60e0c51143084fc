from .component import main

main()
