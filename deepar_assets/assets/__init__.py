import warnings

import dagster as dg

# backfill_policy is how a partition range runs as one run (the bulk history, and the
# CLI's --partition-range); it is marked beta, and saying so at every import is noise.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
