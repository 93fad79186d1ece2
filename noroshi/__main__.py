from noroshi.cli import main

raise SystemExit(main())
