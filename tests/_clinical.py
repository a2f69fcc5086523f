"""Test helper shared by the pipeline tests (importable: pytest's pythonpath
holds tests/): the quickstart's tabular preprocessing."""

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def tabular_transformer(numeric=None, categorical=None, *, handle_unknown="ignore"):
    """Impute (with indicators) and scale the numbers, one-hot the categories,
    as examples/quickstart.py does; columns by dtype unless given."""
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                make_column_selector(dtype_include="number")
                if numeric is None
                else numeric,
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown=handle_unknown, sparse_output=False),
                make_column_selector(dtype_exclude="number")
                if categorical is None
                else categorical,
            ),
        ]
    )
