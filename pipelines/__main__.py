"""``python -m featx.pipelines`` runs the featx command line."""

import sys

from featx.pipelines.cli import main

sys.exit(main())
