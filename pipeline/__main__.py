from lstmrec.cli.main import main

raise SystemExit(main())
