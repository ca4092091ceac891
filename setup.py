from setuptools import find_packages, setup

setup(
    name="deepar-assets",
    version="0.1.0",
    description="Demand forecasts with DeepAR for any dataset a spec declares, as Dagster assets.",
    packages=find_packages(exclude=["deepar_assets_tests*"]),
    package_data={"deepar_assets": ["py.typed"]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        # CPU build from the local wheel; any looser spec makes pip pull a multi-GB CUDA build.
        # The Makefile installs it first for the same reason.
        "torch==2.13.0",
        # These are released together; unpinned, pip resolves dagster-aws to a years-old 0.11.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-aws==0.29.27",
        # The instance on PostgreSQL (deploy/dagster-postgres.yaml) and the `dg` CLI (make run's
        # launch, `dg check defs` in CI): released with the three above.
        "dagster-postgres==0.29.27",
        "dagster-dg-cli==1.13.27",
        # SQLAlchemy 2.1 makes `postgresql://` mean psycopg 3; dagster-postgres builds that URL and
        # ships psycopg2 (its LISTEN/NOTIFY watcher uses it too): 2.1 fails with "No module named
        # 'psycopg'" on the first connection.
        "SQLAlchemy==2.0.*",
        # gluonts needs pandas < 3; 0.17 is the release tested with torch 2.13 and lightning 2.6.
        "gluonts[torch]==0.17.*",
        "lightning==2.6.*",
        "optuna==5.*",
        "pandas==2.3.*",
        "numpy==2.4.*",
        "pyarrow>=15",
        "orjson>=3.9",
        # Charts in the metadata panel of Dagster's UI (PNG, Agg backend).
        "matplotlib==3.10.*",
        "boto3>=1.34",
        # The SageMaker backend takes DeepAR's image URI per region from the SDK (offline lookup):
        # sagemaker-core is the core package of SDK v3, without sagemaker 3.x's mlflow/pyarrow
        # pins (which would move pyarrow) and without SDK 2.x, which is on its deprecation path.
        # Adds ~6 s and 13 small packages to an install (rich goes 15 -> 14.3); torch, numpy, pandas
        # and pyarrow are untouched.
        "sagemaker-core==2.27.*",
        # backtest_report's statistical baselines (AutoETS, MSTL, AutoTheta), Nixtla's maintained
        # library. 2.1 installs beside torch 2.13 / numpy 2.4 / pandas 2.3 / pyarrow without moving
        # them (pip --dry-run: adds statsmodels, coreforecast, utilsforecast, fugue and 7 small
        # packages; no numba).
        "statsforecast==2.1.*",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            # S3 tests run against moto's server mode over HTTP.
            "moto[server]==5.2.*",
            # `make test` (CI) runs ruff check, ruff format --check and mypy: pinned, so a new release
            # never fails a build that passed.
            "ruff==0.17.6",
            "mypy==2.4.1",
            "types-PyYAML==6.0.12.20261122",
            # The browser test drives Debian's chromium (apt; .ci/run installs it) with Playwright's
            # client only: `playwright install` (its own browser downloads) is never run.
            "playwright==1.65.*",
        ],
    },
)
