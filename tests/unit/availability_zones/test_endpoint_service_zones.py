"""Zones where an interface endpoint service is not offered. moto offers every service in every zone, so
EC2's answers come from botocore's Stubber, which checks them against the EC2 service model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import ANY, Stubber

from streaming_common.aws_clients import client
from zone_choice import ZoneChoiceError, ZoneRequest, choose

ZONES = {
    "us-east-1a": "use1-az6",
    "us-east-1b": "use1-az1",
    "us-east-1c": "use1-az2",
    "us-east-1d": "use1-az4",
}


def _zones_answer() -> dict[str, object]:
    return {
        "AvailabilityZones": [
            {"ZoneName": name, "ZoneId": zone_id, "State": "available"} for name, zone_id in ZONES.items()
        ]
    }


def _services_answer(lambda_zones: list[str]) -> dict[str, object]:
    return {
        "ServiceDetails": [
            {"ServiceName": "com.amazonaws.us-east-1.sts", "AvailabilityZones": sorted(ZONES)},
            {"ServiceName": "com.amazonaws.us-east-1.lambda", "AvailabilityZones": lambda_zones},
        ]
    }


@pytest.fixture
def ec2() -> Iterator[Stubber]:
    with Stubber(client("ec2")) as stub:
        yield stub


def test_zones_without_an_endpoint_service_are_skipped(ec2: Stubber) -> None:
    ec2.add_response("describe_availability_zones", _zones_answer(), {"Filters": ANY})
    ec2.add_response(
        "describe_vpc_endpoint_services",
        _services_answer(["us-east-1b", "us-east-1c", "us-east-1d"]),
        {"ServiceNames": ["com.amazonaws.us-east-1.sts", "com.amazonaws.us-east-1.lambda"]},
    )
    choice = choose(ZoneRequest(3, endpoint_services=("sts", "lambda")))
    assert choice.zone_names == ("us-east-1b", "us-east-1c", "us-east-1d")


def test_a_requested_zone_without_an_endpoint_service_is_refused(ec2: Stubber) -> None:
    ec2.add_response("describe_availability_zones", _zones_answer(), {"Filters": ANY})
    ec2.add_response(
        "describe_vpc_endpoint_services", _services_answer(["us-east-1b"]), {"ServiceNames": ANY}
    )
    with pytest.raises(ZoneChoiceError, match="us-east-1a: no VPC endpoint for lambda there"):
        choose(ZoneRequest(2, requested=("us-east-1a", "us-east-1b"), endpoint_services=("sts", "lambda")))


def test_too_few_zones_with_every_endpoint_says_how_many_there_are(ec2: Stubber) -> None:
    ec2.add_response("describe_availability_zones", _zones_answer(), {"Filters": ANY})
    ec2.add_response(
        "describe_vpc_endpoint_services",
        _services_answer(["us-east-1a", "us-east-1b"]),
        {"ServiceNames": ANY},
    )
    with pytest.raises(ZoneChoiceError, match="set AvailabilityZoneCount to 2"):
        choose(ZoneRequest(3, endpoint_services=("sts", "lambda")))
