from voicedesk.cli import main

raise SystemExit(main())
