"""Reliability diagram of entity confidences (before and after calibration) from `python -m trainer tune --json`.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/plot_reliability.py \\
        "INT8 student=build-work/effort/tune-student-int8.json" "Teacher=build-work/effort/tune-teacher.json" \\
        --part test --out docs/reliability.png

One panel per model: per confidence bin (tenths), the share of its entities that are exactly right against the
bin's mean confidence, for the decoder the folder had (temperature 1) and for the one chosen now, calibrated;
the diagonal is perfect calibration. Drawn with Qt (no plotting library in the bundle).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

PANEL, MARGIN = 420, 60
SERIES = (("current", "as shipped until now", QColor("#d55e00")), ("after", "chosen, calibrated", QColor("#0072b2")))


def draw_panel(p: QPainter, x0: float, title: str, result: dict, part: str) -> None:
    plot = QRectF(x0 + MARGIN, MARGIN, PANEL - MARGIN - 20, PANEL - 2 * MARGIN)

    def at(conf: float, acc: float) -> QPointF:
        return QPointF(plot.left() + conf * plot.width(), plot.bottom() - acc * plot.height())

    p.setPen(QPen(QColor("#999999"), 1, Qt.PenStyle.DashLine))
    p.drawLine(at(0, 0), at(1, 1))
    p.setPen(QPen(Qt.GlobalColor.black, 1))
    p.drawRect(plot)
    for i in range(0, 11, 2):
        v = i / 10
        p.drawText(QRectF(at(v, 0).x() - 20, plot.bottom() + 4, 40, 16), Qt.AlignmentFlag.AlignCenter, f"{v:.1f}")
        p.drawText(QRectF(plot.left() - 44, at(0, v).y() - 8, 40, 16), Qt.AlignmentFlag.AlignRight, f"{v:.1f}")
    p.drawText(QRectF(plot.left(), plot.bottom() + 22, plot.width(), 16), Qt.AlignmentFlag.AlignCenter,
               "confidence shown (bin mean)")
    p.save()
    p.translate(x0 + 14, plot.center().y())
    p.rotate(-90)
    p.drawText(QRectF(-plot.height() / 2, -8, plot.height(), 16), Qt.AlignmentFlag.AlignCenter, "share exactly right")
    p.restore()
    bold = QFont(p.font())
    bold.setBold(True)
    p.setFont(bold)
    p.drawText(QRectF(x0, 12, PANEL, 20), Qt.AlignmentFlag.AlignCenter, f"{title} ({part})")
    p.setFont(QFont(p.font().family(), p.font().pointSize()))
    legend_y = plot.top() + 6
    for key, label, color in SERIES:
        rel = result["reliability"][f"{part}_{key}"]
        name = result["current"] if key == "current" else f"{result['chosen']}, T {result['temperature']:g}"
        points = [(b["confidence"], b["accuracy"], b["entities"]) for b in rel["bins"] if b["entities"]]
        total = sum(n for *_, n in points)
        p.setPen(QPen(color, 2))
        for (c1, a1, _), (c2, a2, _) in zip(points, points[1:]):
            p.drawLine(at(c1, a1), at(c2, a2))
        p.setBrush(color)
        for c, a, n in points:
            r = 2.5 + 9 * (n / total) ** 0.5  # area follows the bin's share of entities
            p.drawEllipse(at(c, a), r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawText(QRectF(plot.left() + 8, legend_y, plot.width() - 10, 16), Qt.AlignmentFlag.AlignLeft,
                   f"{label}: {name}, ECE {rel['ece']:.3f}")
        legend_y += 18


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="TITLE=tune.json")
    parser.add_argument("--part", default="test", choices=("dev", "test"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    image = QImage(PANEL * len(args.models), PANEL, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    for i, spec in enumerate(args.models):
        title, _, path = spec.partition("=")
        draw_panel(p, i * PANEL, title, json.loads(Path(path).read_text(encoding="utf-8")), args.part)
    p.end()
    if not image.save(str(args.out)):
        print(f"could not write {args.out}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
