from laurels.cli import main

raise SystemExit(main())
