"""The name builder: every name SageMaker accepts, deterministic, short when it must be."""

import re

import pytest

from sagechain import names

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@pytest.mark.parametrize(
    "parts",
    [
        ("sagechain", "flowers-3f2a", "train"),
        ("sagechain", "Café Photos+More 100%", "label"),
        ("x" * 200,),
        ("--", "__", "é"),
    ],
)
def test_names_are_valid_for_sagemaker(parts: tuple[str, ...]) -> None:
    name = names.sagemaker_name(*parts)

    assert SAGEMAKER_NAME.match(name)
    assert name == names.sagemaker_name(*parts)


def test_long_names_keep_a_hash_so_different_inputs_stay_different() -> None:
    a = names.sagemaker_name("sagechain", "a" * 80, "train")
    b = names.sagemaker_name("sagechain", "a" * 80, "tune")

    assert len(a) == len(b) == 63
    assert a != b


def test_tuning_job_names_fit_32_characters() -> None:
    name = names.sagemaker_name(
        "sagechain", "flowers-0123456789ab", "tune", max_length=names.TUNING_JOB_NAME_MAX
    )

    assert len(name) <= 32
    assert SAGEMAKER_NAME.match(name)


def test_run_id_is_stable_per_upload_and_safe_in_names_and_keys() -> None:
    first = names.run_id("Café Photos", "bucket", "datasets/Café Photos/dataset.json", "v1")

    assert first == names.run_id("Café Photos", "bucket", "datasets/Café Photos/dataset.json", "v1")
    assert first != names.run_id("Café Photos", "bucket", "datasets/Café Photos/dataset.json", "v2")
    assert re.fullmatch(r"caf-photos-[0-9a-f]{12}", first)
    assert names.run_id("日本", "b", "k", None).startswith("dataset-")
