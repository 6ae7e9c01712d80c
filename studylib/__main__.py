import sys

from studylib.cli.main import main

sys.exit(main())
