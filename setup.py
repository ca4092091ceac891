from setuptools import find_packages, setup

setup(
    name="deepar-assets",
    version="0.1.0",
    description="Weekly retail department sales forecasts with DeepAR, as Dagster assets.",
    packages=find_packages(exclude=["deepar_assets_tests*"]),
    package_data={"deepar_assets": ["py.typed"]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        # CPU build from the local wheel; any looser spec makes pip pull a multi-GB CUDA build.
        # The Makefile installs it first for the same reason.
        "torch==2.13.0",
        # These three are released together; unpinned, pip resolves dagster-aws to a years-old 0.11.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-aws==0.29.27",
        # gluonts needs pandas < 3; 0.17 is the release tested with torch 2.13 and lightning 2.6.
        "gluonts[torch]==0.17.*",
        "lightning==2.6.*",
        "optuna==5.*",
        "pandas==2.3.*",
        "numpy==2.4.*",
        "pyarrow>=15",
        "orjson>=3.9",
        "boto3>=1.34",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            # S3 tests run against moto's server mode over HTTP.
            "moto[server]==5.2.*",
            "ruff>=0.6",
        ],
    },
)
