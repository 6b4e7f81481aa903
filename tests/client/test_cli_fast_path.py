"""`stsd env [PROFILE]` and `stsd credential-process PROFILE` skip argparse (main.py's
`_fast_args`): for those forms they must get exactly what argparse would give, and every
other form must still go through argparse."""

import pytest

from stsd.client.main import _fast_args, build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["env"],
        ["env", "readonly"],
        ["env", "prod ro"],
        ["env", ""],
        ["credential-process", "readonly"],
        ["credential-process", "a/b"],
        ["credential-process", ""],
    ],
)
def test_the_fast_forms_parse_as_argparse_does(argv: list[str]) -> None:
    fast = _fast_args(argv)
    assert fast is not None
    assert vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["--help"],
        ["status"],
        ["env", "--json"],
        ["env", "-h"],
        ["env", "--"],
        ["env", "-1"],
        ["env", "readonly", "--json"],
        ["env", "a", "b"],
        ["credential-process"],
        ["credential-process", "--help"],
        ["credential-process", "readonly", "extra"],
        ["exec", "readonly"],
    ],
)
def test_every_other_form_goes_through_argparse(argv: list[str]) -> None:
    """Options, help, usage errors and other commands are argparse's to handle."""
    assert _fast_args(argv) is None
