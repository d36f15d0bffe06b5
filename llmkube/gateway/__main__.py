import sys

from llmkube.gateway import main

sys.exit(main())
