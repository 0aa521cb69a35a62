"""The replay function's settings, read once per container by the handler."""

from __future__ import annotations

from typing import Annotated

import msgspec

from streaming_common.settings import KafkaSettings


class ReplaySettings(KafkaSettings, frozen=True, kw_only=True):
    """Where the archive and the run files are, the target cluster (KafkaSettings: KAFKA_BOOTSTRAP_SERVERS or
    CLUSTER_ARN, KAFKA_AUTH), the default topic to replay, the source cluster of consumer groups to translate
    (empty = the target), and the ceilings of a request's rates (0 = no ceiling)."""

    archive_bucket_name: str
    replay_bucket_name: str
    source_topic: str = ""
    source_bootstrap_servers: str | None = None
    source_cluster_arn: str | None = None
    replay_max_records_per_second: Annotated[int, msgspec.Meta(ge=0)] = 0
    replay_max_bytes_per_second: Annotated[int, msgspec.Meta(ge=0)] = 0

    def source_cluster(self) -> KafkaSettings:
        """Settings that reach the source cluster (for reading consumer groups): the target's unless
        SOURCE_BOOTSTRAP_SERVERS or SOURCE_CLUSTER_ARN is set."""
        if not (self.source_bootstrap_servers or self.source_cluster_arn):
            return self
        return msgspec.structs.replace(
            self, kafka_bootstrap_servers=self.source_bootstrap_servers, cluster_arn=self.source_cluster_arn
        )

    def records_per_second(self, requested: int | None) -> int | None:
        """The run's records/s limit: the request's, never above the ceiling; None = unlimited."""
        return _capped(requested, self.replay_max_records_per_second)

    def bytes_per_second(self, requested: int | None) -> int | None:
        """The run's bytes/s limit: the request's, never above the ceiling; None = unlimited."""
        return _capped(requested, self.replay_max_bytes_per_second)


def _capped(requested: int | None, ceiling: int) -> int | None:
    limits = [limit for limit in (requested, ceiling or None) if limit]
    return min(limits) if limits else None
