"""Draw docs/architecture.svg: the solution's data flow, as plain SVG with no dependencies.

Usage: python scripts/draw_architecture.py docs/architecture.svg
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

WIDTH, HEIGHT = 1100, 560
BOX_W, BOX_H = 170, 58

# name -> (x, y, fill, label lines)
BOXES: dict[str, tuple[int, int, str, tuple[str, ...]]] = {
    "producers": (20, 40, "#f2f2f2", ("Data producers", "HTTPS + Cognito JWT")),
    "api": (230, 40, "#fde8d4", ("API Gateway REST API", "Cognito authorizer")),
    "producer": (440, 40, "#fde8d4", ("producer Lambda", "idempotent, acks=all")),
    "msk": (650, 200, "#e2d9f3", ("Amazon MSK topic", "IAM or SCRAM, TLS, KMS")),
    "consumer": (880, 40, "#d9ead3", ("consumer Lambda", "partial batch response")),
    "forwarder": (880, 170, "#d9ead3", ("firehose_forwarder", "Lambda")),
    "firehose": (880, 290, "#d9ead3", ("Kinesis Data Firehose", "GZIP, partitioned")),
    "archive": (880, 410, "#cfe2f3", ("S3 archive", "every original record")),
    "flink": (440, 330, "#fff2cc", ("Managed Flink", "PyFlink 1.20 SQL")),
    "results": (440, 450, "#cfe2f3", ("S3 results", "partitioned")),
    "monitoring": (20, 330, "#f4cccc", ("CloudWatch dashboards", "alarms -> SNS")),
}
ARROWS: list[tuple[str, str, str]] = [
    ("producers", "api", ""),
    ("api", "producer", ""),
    ("producer", "msk", "produce"),
    ("msk", "consumer", "event source mapping"),
    ("msk", "forwarder", ""),
    ("forwarder", "firehose", "PutRecordBatch"),
    ("firehose", "archive", ""),
    ("msk", "flink", "Kafka source"),
    ("flink", "results", ""),
]


def _centre(name: str) -> tuple[float, float]:
    x, y, _, _ = BOXES[name]
    return x + BOX_W / 2, y + BOX_H / 2


def _edge_point(name: str, towards: tuple[float, float]) -> tuple[float, float]:
    cx, cy = _centre(name)
    dx, dy = towards[0] - cx, towards[1] - cy
    scale = min((BOX_W / 2) / abs(dx) if dx else float("inf"), (BOX_H / 2) / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def render() -> str:
    """The SVG document."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
        '<path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        '<text x="20" y="24" font-size="16" font-weight="bold">Streaming Data Solution for Amazon MSK</text>',
        '<rect x="215" y="160" width="650" height="250" rx="10" fill="none" stroke="#999" '
        'stroke-dasharray="6 4"/>',
        '<text x="225" y="178" fill="#666">VPC: private subnets, VPC endpoints or NAT, flow logs</text>',
    ]
    for source, target, label in ARROWS:
        x1, y1 = _edge_point(source, _centre(target))
        x2, y2 = _edge_point(target, _centre(source))
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#444" '
            'stroke-width="1.6" marker-end="url(#arrow)"/>'
        )
        if label:
            parts.append(
                f'<text x="{(x1 + x2) / 2 + 6:.0f}" y="{(y1 + y2) / 2 - 6:.0f}" fill="#333" '
                f'font-size="11">{escape(label)}</text>'
            )
    for x, y, fill, lines in BOXES.values():
        parts.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="#555"/>'
        )
        for index, line in enumerate(lines):
            weight = ' font-weight="bold"' if index == 0 else ""
            parts.append(
                f'<text x="{x + BOX_W / 2:.0f}" y="{y + 24 + index * 18}" text-anchor="middle"{weight}>'
                f"{escape(line)}</text>"
            )
    parts.append(
        '<text x="20" y="420" fill="#666" font-size="11">Every component reports to CloudWatch;</text>'
    )
    parts.append(
        '<text x="20" y="436" fill="#666" font-size="11">DeploymentOption chooses which are deployed.</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    Path(argv[1]).write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
