import sys

from llmkube.agent.command import main

sys.exit(main())
