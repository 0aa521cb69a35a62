"""The settings read their environment as pydantic-settings did: variable names in any case (a field's
variable is its name in capitals), keyword arguments first, text converted and checked, defaults checked too,
errors naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from msgspec import Meta, ValidationError

from streaming_common.settings import FunctionSettings, KafkaAuth, KafkaEventSourceSettings, KafkaSettings


class ExampleSettings(FunctionSettings, frozen=True, kw_only=True):
    retries: Annotated[int, Meta(ge=0)] = 3
    mode: Literal["A", "B"] = "A"
    label: str | None = None
    folder: Path = Path("/opt")


def test_variable_names_in_any_case_and_text_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "7")
    monkeypatch.setenv("Mode", "B")
    monkeypatch.setenv("label", "")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("FOLDER", "/var/task")
    monkeypatch.setenv("UNRELATED_VARIABLE", "ignored")
    settings = ExampleSettings()
    assert (settings.retries, settings.mode, settings.label, settings.aws_region, settings.folder) == (
        7,
        "B",
        "",
        "eu-west-1",
        Path("/var/task"),
    )


def test_keyword_arguments_take_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "7")
    assert ExampleSettings(retries=1).retries == 1


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("0", False), ("TRUE", True), ("1", True)])
def test_booleans_true_false_one_zero(monkeypatch: pytest.MonkeyPatch, text: str, expected: bool) -> None:
    monkeypatch.setenv("PARTIAL_BATCH_RESPONSES", text)
    assert KafkaEventSourceSettings().partial_batch_responses is expected


def test_other_boolean_words_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # pydantic also read yes/no/on/off; msgspec refuses them, by name, rather than guess
    monkeypatch.setenv("PARTIAL_BATCH_RESPONSES", "yes")
    with pytest.raises(
        ValidationError, match=r"Expected `bool`, got `str` - at `\$.PARTIAL_BATCH_RESPONSES`"
    ):
        KafkaEventSourceSettings()


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "-1")
    with pytest.raises(ValidationError, match=r"Expected `int` >= 0 - at `\$.RETRIES`"):
        ExampleSettings()
    monkeypatch.setenv("RETRIES", "many")
    with pytest.raises(ValidationError, match=r"Expected `int`, got `str` - at `\$.RETRIES`"):
        ExampleSettings()
    monkeypatch.delenv("RETRIES")
    with pytest.raises(ValidationError, match=r"Invalid enum value 'C' - at `\$.MODE`"):
        ExampleSettings(mode="C")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"expected Path, got int - at `\$.FOLDER`"):
        ExampleSettings(folder=3)  # type: ignore[arg-type]


def test_unknown_keyword_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="ExampleSettings has no field retry"):
        ExampleSettings(retry=1)  # type: ignore[call-arg]


def test_defaults_are_validated() -> None:
    class BadDefault(FunctionSettings, frozen=True, kw_only=True):
        retries: Annotated[int, Meta(ge=0)] = -1

    with pytest.raises(ValidationError, match=r"\$.RETRIES"):
        BadDefault()


def test_required_fields_name_their_variable() -> None:
    class Required(FunctionSettings, frozen=True, kw_only=True):
        bucket_name: str

    with pytest.raises(ValidationError, match=r"Object missing required field `BUCKET_NAME`"):
        Required()


def test_frozen_and_hashable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b:9092")
    monkeypatch.setenv("kafka_auth", "PLAINTEXT")
    settings = KafkaSettings()
    assert settings.kafka_auth is KafkaAuth.PLAINTEXT
    assert hash(settings) == hash(KafkaSettings())
    with pytest.raises(AttributeError, match="immutable"):
        settings.kafka_auth = KafkaAuth.IAM  # type: ignore[misc]
