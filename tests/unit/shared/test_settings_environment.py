"""The settings read their environment as pydantic-settings did: variable names in any case, a field's
validation alias, keyword arguments first, text converted and checked by the model, defaults checked too."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from streaming_common.settings import FunctionSettings, KafkaAuth, KafkaEventSourceSettings, KafkaSettings


class ExampleSettings(FunctionSettings):
    retries: int = Field(default=3, ge=0)
    mode: Literal["A", "B"] = "A"
    label: str | None = None


def test_variable_names_in_any_case_and_text_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "7")
    monkeypatch.setenv("Mode", "B")
    monkeypatch.setenv("label", "")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("UNRELATED_VARIABLE", "ignored")
    settings = ExampleSettings()
    assert (settings.retries, settings.mode, settings.label, settings.aws_region) == (7, "B", "", "eu-west-1")


def test_keyword_arguments_take_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "7")
    assert ExampleSettings(retries=1).retries == 1


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("0", False), ("TRUE", True), ("1", True)])
def test_booleans_read_as_pydantic_reads_them(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: bool
) -> None:
    monkeypatch.setenv("PARTIAL_BATCH_RESPONSES", text)
    assert KafkaEventSourceSettings().partial_batch_responses is expected


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRIES", "-1")
    with pytest.raises(ValidationError, match="retries"):
        ExampleSettings()
    monkeypatch.setenv("RETRIES", "many")
    with pytest.raises(ValidationError, match="retries"):
        ExampleSettings()


def test_defaults_are_validated() -> None:
    class BadDefault(FunctionSettings):
        retries: int = Field(default=-1, ge=0)

    with pytest.raises(ValidationError, match="retries"):
        BadDefault()


def test_frozen_and_hashable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b:9092")
    monkeypatch.setenv("kafka_auth", "PLAINTEXT")
    settings = KafkaSettings()
    assert settings.kafka_auth is KafkaAuth.PLAINTEXT
    assert hash(settings) == hash(KafkaSettings())
    with pytest.raises(ValidationError, match="frozen"):
        settings.kafka_auth = KafkaAuth.IAM  # type: ignore[misc]
