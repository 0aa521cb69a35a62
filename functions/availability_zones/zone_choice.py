"""Choose or check the Availability Zones of the cluster's subnets.

MSK places brokers in the client subnets' zones, and some zones cannot take them: "Client subnets can't
occupy the Availability Zone with ID use1-az3" (MSK API, BrokerNodeGroupInfo.ClientSubnets). Interface VPC
endpoint services are not offered in every zone either ("The VPC endpoint service ... does not support the
availability zone of the subnet"). Zone names map to zone IDs differently in every account, so the choice is
made on IDs, in the deploying account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streaming_common.aws_clients import client

# Zone IDs MSK does not place brokers in (source: MSK API reference, BrokerNodeGroupInfo.ClientSubnets).
UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3"})
ZONE_LETTERS = ("A", "B", "C")


class ZoneChoiceError(ValueError):
    """The request cannot be met in this account and region; the message says what to change."""


@dataclass(frozen=True, slots=True)
class ZoneRequest:
    """How many zones; the zones asked for, or the subnets of an existing VPC to check; and the interface
    endpoint services (short names such as "sts") the subnets will get."""

    count: int
    requested: tuple[str, ...] = ()
    existing_subnet_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    endpoint_services: tuple[str, ...] = ()

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> ZoneRequest:
        """Read the custom resource's Count, Zones, ExistingSubnetIds, VpcId and EndpointServices."""
        try:
            count = int(properties.get("Count", ""))
        except ValueError:
            raise ZoneChoiceError(f"Count must be 2 or 3, got {properties.get('Count')!r}") from None
        if count not in (2, 3):
            raise ZoneChoiceError(f"Count must be 2 or 3, got {count}")
        return cls(
            count,
            _items(properties.get("Zones")),
            _items(properties.get("ExistingSubnetIds")),
            str(properties.get("VpcId") or ""),
            _items(properties.get("EndpointServices")),
        )


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """The zones, in subnet order (A, B, C)."""

    zone_names: tuple[str, ...]
    zone_ids: tuple[str, ...]

    def attributes(self) -> dict[str, str]:
        """The custom resource's attributes: ZoneA, ZoneB, ZoneC (empty when unused), Zones, ZoneIds."""
        padded = self.zone_names + ("",) * (len(ZONE_LETTERS) - len(self.zone_names))
        return {f"Zone{letter}": name for letter, name in zip(ZONE_LETTERS, padded, strict=True)} | {
            "Zones": ",".join(self.zone_names),
            "ZoneIds": ",".join(self.zone_ids),
        }


def _items(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return tuple(item.strip() for item in str(value or "").split(",") if item.strip())


def _region_zones() -> dict[str, str]:
    """Zone name -> zone ID of the region's available zones (not Local Zones or Wavelength Zones)."""
    answer = client("ec2").describe_availability_zones(
        Filters=[
            {"Name": "state", "Values": ["available"]},
            {"Name": "zone-type", "Values": ["availability-zone"]},
        ]
    )
    return {zone["ZoneName"]: zone["ZoneId"] for zone in answer["AvailabilityZones"]}


def _endpoint_service_zones(services: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Short service name -> the zone names its interface endpoint service is offered in."""
    if not services:
        return {}
    ec2 = client("ec2")
    prefix = f"com.amazonaws.{ec2.meta.region_name}."
    answer = ec2.describe_vpc_endpoint_services(ServiceNames=[prefix + service for service in services])
    offered = {
        detail["ServiceName"].removeprefix(prefix): frozenset(detail.get("AvailabilityZones", []))
        for detail in answer["ServiceDetails"]
    }
    missing = [service for service in services if service not in offered]
    if missing:
        raise ZoneChoiceError(f"this region offers no VPC endpoint service for {', '.join(missing)}")
    return offered


def _services_missing_in(zone: str, offered: Mapping[str, frozenset[str]]) -> list[str]:
    return [service for service, zones in offered.items() if zone not in zones]


def _refuse_unsupported(zones: Mapping[str, str], offered: Mapping[str, frozenset[str]], what: str) -> None:
    problems = [
        f"{name} ({zone_id}): MSK cannot place brokers there"
        for name, zone_id in zones.items()
        if zone_id in UNSUPPORTED_ZONE_IDS
    ] + [
        f"{name}: no VPC endpoint for {', '.join(missing)} there"
        for name in zones
        if (missing := _services_missing_in(name, offered))
    ]
    if problems:
        raise ZoneChoiceError(
            f"{what} cannot be used - {'; '.join(problems)}: choose other Availability Zones"
        )


def _check_private_dns(vpc_id: str) -> None:
    """Interface endpoints with private DNS need the VPC's DNS support and DNS hostnames (EC2 API,
    CreateVpcEndpoint, PrivateDnsEnabled)."""
    ec2 = client("ec2")
    off = [
        attribute
        for attribute, key in (
            ("enableDnsSupport", "EnableDnsSupport"),
            ("enableDnsHostnames", "EnableDnsHostnames"),
        )
        if not ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]
    ]
    if off:
        raise ZoneChoiceError(
            f"VPC {vpc_id} has {' and '.join(off)} off: interface endpoints with private DNS need both on"
            " (aws ec2 modify-vpc-attribute), or set CreateEndpointsInExistingVpc=false"
        )


def _check_subnets(request: ZoneRequest) -> ZoneChoice:
    if len(request.existing_subnet_ids) != request.count:
        raise ZoneChoiceError(
            f"ExistingPrivateSubnetIds lists {len(request.existing_subnet_ids)} subnets; the cluster spreads"
            f" its brokers over AvailabilityZoneCount={request.count} zones and needs one subnet in each"
        )
    subnets = client("ec2").describe_subnets(SubnetIds=list(request.existing_subnet_ids))["Subnets"]
    by_id = {subnet["SubnetId"]: subnet for subnet in subnets}
    ordered = [by_id[subnet_id] for subnet_id in request.existing_subnet_ids]
    outside = [s["SubnetId"] for s in ordered if request.vpc_id and s["VpcId"] != request.vpc_id]
    if outside:
        raise ZoneChoiceError(f"subnets {', '.join(outside)} are not in ExistingVpcId {request.vpc_id}")
    zone_ids = [s["AvailabilityZoneId"] for s in ordered]
    if len(set(zone_ids)) != len(zone_ids):
        raise ZoneChoiceError(
            f"subnets {', '.join(request.existing_subnet_ids)} share Availability Zones"
            f" ({', '.join(zone_ids)}): give one subnet per zone"
        )
    offered = _endpoint_service_zones(request.endpoint_services)
    _refuse_unsupported(
        {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in ordered}, offered, "subnets in"
    )
    if request.endpoint_services:
        _check_private_dns(ordered[0]["VpcId"])
    return ZoneChoice(tuple(s["AvailabilityZone"] for s in ordered), tuple(zone_ids))


def _pick(request: ZoneRequest) -> ZoneChoice:
    available = _region_zones()
    offered = _endpoint_service_zones(request.endpoint_services)
    if request.requested:
        unknown = [name for name in request.requested if name not in available]
        if unknown:
            raise ZoneChoiceError(
                f"AvailabilityZones {', '.join(unknown)} are not available zones of this region "
                f"(available: {', '.join(sorted(available))})"
            )
        if len(set(request.requested)) != request.count:
            raise ZoneChoiceError(
                f"AvailabilityZones lists {len(set(request.requested))} distinct zones; "
                f"AvailabilityZoneCount is {request.count}"
            )
        _refuse_unsupported({name: available[name] for name in request.requested}, offered, "zones")
        names = request.requested
    else:
        usable = sorted(
            name
            for name, zone_id in available.items()
            if zone_id not in UNSUPPORTED_ZONE_IDS and not _services_missing_in(name, offered)
        )
        if len(usable) < request.count:
            raise ZoneChoiceError(
                f"this region has {len(usable)} Availability Zones where MSK can place brokers and every VPC"
                f" endpoint the stack creates is offered ({', '.join(usable) or 'none'}); set"
                f" AvailabilityZoneCount to {len(usable)} (Express brokers need 3), or use another region"
            )
        names = tuple(usable[: request.count])
    return ZoneChoice(tuple(names), tuple(available[name] for name in names))


def choose(request: ZoneRequest) -> ZoneChoice:
    """Check the existing subnets, or pick (or check the requested) zones for new subnets."""
    return _check_subnets(request) if request.existing_subnet_ids else _pick(request)
