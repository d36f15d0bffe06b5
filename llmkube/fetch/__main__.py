from llmkube.fetch.cli import main

raise SystemExit(main())
