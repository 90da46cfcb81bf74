"""`ketamine report RUN_DIR`: one self-contained HTML page holding every figure of the run (each embedded image
decodes back to its file, byte for byte), the exact command that reproduces the run, and its inputs; and the
`command.json` provenance record the run commands write."""

import base64
import html
import json
import re
import sys
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

import cli
from pkpd import __version__
from pkpd.figures import pyplot, save_figure
from circuits.report import build_report, write_report

runner = CliRunner()


class _Page(HTMLParser):
    """The parts of a report a reader relies on: images (src), code blocks (text) and the page's whole text."""

    def __init__(self):
        super().__init__()
        self.images, self.code, self.text, self._in_code = [], [], [], False
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        if tag == "code":
            self._in_code, self._buf = True, []
        for k in ("src", "href"):
            if k in a and not a[k].startswith("data:"):
                self.external.append(a[k])

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False
            self.code.append("".join(self._buf))

    def handle_data(self, data):
        self.text.append(data)
        if self._in_code:
            self._buf.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    return p


def decoded(src: str) -> bytes:
    head, _, data = src.partition(",")
    assert head in ("data:image/png;base64", "data:image/svg+xml;base64")
    return base64.b64decode(data)


def _tiny_png(path, title, value):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, value])
    ax.set_xlabel("time (h)")
    ax.set_ylabel("x (µM)")
    save_figure(fig, path, title=title, parameters={"value": value}, dpi=40)


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    """A tiny PK cohort made through the CLI (n = 20, 2 h; ~2 s warm), so that command.json is the CLI's own."""
    out = tmp_path_factory.mktemp("report") / "c1"
    args = ["cohort", "--n", "20", "--dose", "10mg/kg", "--duration", "2h", "--out", str(out), "--chunk-size",
            "10", "--seed", "3"]
    argv = sys.argv
    sys.argv = ["ketamine", *args]  # reproduce_command reads the running command line
    try:
        res = runner.invoke(cli.app, args)
    finally:
        sys.argv = argv
    assert res.exit_code == 0, res.output
    return out, "ketamine " + " ".join(args)


def test_cohort_report_holds_every_figure_the_command_and_the_inputs(cohort_dir):
    out, command = cohort_dir
    rec = json.loads((out / "command.json").read_text())
    assert rec["command"] == command and rec["version"] == __version__
    assert "command.json" not in json.dumps(json.loads((out / "manifest.json").read_text()))  # not in the manifest
    res = runner.invoke(cli.app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text()
    doc = parse(page)
    # the report drew the percentile bands (PNG + SVG twin): one figure, embedded once, byte for byte
    figures = sorted(out.glob("*.png")) + [p for p in out.glob("*.svg") if not p.with_suffix(".png").exists()]
    assert [p.name for p in figures] == ["bands.png"] and (out / "bands.svg").exists()
    assert len(doc.images) == len(figures) == page.count("data:image/")
    assert decoded(doc.images[0]) == (out / "bands.png").read_bytes()
    assert doc.external == []  # self-contained: nothing loaded from outside
    assert command in doc.code  # exactly, once unescaped
    text = " ".join(doc.text)
    for needle in ("cohort", "Inputs", "mouse", "pk", "plasma_ketamine_cmax_uM", __version__, "20"):
        assert needle in text, needle
    spec = json.loads((out / "manifest.json").read_text())["spec"]
    assert re.search(rf"<th>seed</th><td><span class=\"num\">{spec['seed']}</span>", page)
    assert re.search(r"<th>duration_h</th><td><span class=\"num\">2</span>", page)


def test_resumed_cohort_appends_its_command(tmp_path, monkeypatch):
    (tmp_path / "command.json").write_text(json.dumps({"command": "ketamine cohort --n 5 --out d",
                                                       "version": "0", "created": "then"}))
    monkeypatch.setattr(sys, "argv", ["ketamine", "cohort", "--n", "5", "--out", "d", "--resume"])
    cli.record_command(tmp_path, resume=True)
    rec = json.loads((tmp_path / "command.json").read_text())
    assert rec["command"] == "ketamine cohort --n 5 --out d"
    assert rec["commands"] == ["ketamine cohort --n 5 --out d", "ketamine cohort --n 5 --out d --resume"]
    doc = parse(build_report_for_commands(tmp_path))
    assert doc.code == rec["commands"]


def build_report_for_commands(d):
    (d / "x.study.json").write_text(json.dumps({"kind": "demo", "inputs": {}, "results": {}}))
    return build_report(d)


@pytest.fixture
def study_dir(tmp_path):
    """A synthetic study record with two PNG figures (one in a subfolder, listed by the record), an SVG without
    a PNG twin, and a command full of characters HTML must escape."""
    _tiny_png(tmp_path / "dose_response.png", "dose-response", 1.0)
    (tmp_path / "figs").mkdir()
    _tiny_png(tmp_path / "figs" / "bands.png", "bands <&>", 2.0)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.set_ylabel("y (Hz)")
    save_figure(fig, tmp_path / "only.svg", title="svg only")
    command = "ketamine study dose-response --doses '1,3,10' --label \"a<b&c>\" --out " + str(tmp_path)
    rec = {"kind": "dose_response", "command": command, "version": __version__,
           "inputs": {"doses_mg_per_kg": [1, 3, 10], "route": "ip", "label": "a<b&c>", "seed": 11},
           "results": {"ed50_mg_per_kg": 4.25, "rows": [{"dose": 1, "failure": 0.7}, {"dose": 10, "failure": 0.2}],
                       "grid": {"unit": "1", "dose_mg_per_kg": [1, 3, 10], "failure_mean": [0.7, 0.45, 0.2]}},
           "figures": ["dose_response.png", "figs/bands.png"]}
    (tmp_path / "dr.study.json").write_text(json.dumps(rec))
    return tmp_path, rec


def test_study_report_embeds_every_figure_and_escapes_text(study_dir):
    d, rec = study_dir
    out = write_report(d, d / "out" / "r.html")
    page = out.read_text()
    doc = parse(page)
    files = [d / "dose_response.png", d / "only.svg", d / "figs" / "bands.png"]
    assert len(doc.images) == len(files) == page.count("data:image/")
    assert sorted(decoded(s) for s in doc.images) == sorted(p.read_bytes() for p in files)
    assert doc.code == [rec["command"]]
    assert html.escape(rec["command"]) in page and "a<b&c>" not in page  # escaped in the source
    text = " ".join(doc.text)
    for needle in ("dose_response", "doses_mg_per_kg", "1, 3, 10", "a<b&c>", "ed50_mg_per_kg", "4.25", "0.7"):
        assert needle in text, needle
    assert doc.external == []
    # equal-length lists (a dose grid and its statistics) are one table with a row per dose
    assert '<tr><th>dose_mg_per_kg</th><th>failure_mean</th></tr><tr><td class="num">1</td>' in page
    assert '<tr><td class="num">3</td><td class="num">0.45</td></tr>' in page


def test_wu2021_report_puts_the_papers_values_beside_the_models(tmp_path):
    summary = {"slh": {"failure_rate": {"baseline": 0.031, "lh": 0.712}},
               "controls": {"cno_alone_hm4di_lh": 0.7},
               "split": {"calibration": ["slh.failure_rate.baseline", "slh.failure_rate.lh"],
                         "validation": ["controls.cno_alone_hm4di_lh"]},
               "paper": {"slh.failure_rate.baseline": {"value": 0.0219, "panel": "FS6-3a (n = 105)"},
                         "slh.failure_rate.lh": {"value": 0.7402, "panel": "FS6-3a (n = 107)"},
                         "controls.cno_alone_hm4di_lh": {"value": None, "direction": "= LH (p = 0.9947)",
                                                         "panel": "Fig 3f"}}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "command.json").write_text(json.dumps({"command": "ketamine experiment wu2021 --out x --n 7",
                                                       "version": __version__, "inputs": {"n": 7, "seed": 0}}))
    _tiny_png(tmp_path / "fig1_failure_rates.png", "failure rates", 1.0)
    page = build_report(tmp_path)
    doc = parse(page)
    assert len(doc.images) == 1 and doc.code == ["ketamine experiment wu2021 --out x --n 7"]
    assert re.search(r"<th>slh.failure_rate.lh</th><td class=\"num\">0.712</td><td>0.7402 </td>"
                     r"<td>FS6-3a \(n = 107\)</td>", page)
    assert "calibration targets" in page and "validation targets" in page
    assert re.search(r"<th>controls.cno_alone_hm4di_lh</th><td class=\"num\">0.7</td><td> = LH \(p = 0.9947\)</td>",
                     page)


def test_a_directory_without_a_run_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"RUN_DIR: .* holds no run \(expected manifest.json, summary.json or "
                                         r"\*.study.json\)"):
        build_report(tmp_path)
    res = runner.invoke(cli.app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "holds no run" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(cli.app, ["report", str(tmp_path), "--out", str(tmp_path / "r.txt")])
    assert res.exit_code == 2 and "must end in one of .html" in res.stderr


def test_a_study_cannot_embed_files_outside_its_run_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not for sharing")
    (run / "link.png").symlink_to(secret)  # a link inside the directory that points out of it
    rec = {"kind": "x", "command": "ketamine x", "figures": [str(secret), "../secret.png", "/etc/passwd"]}
    (run / "x.study.json").write_text(json.dumps(rec))
    page = build_report(run)
    assert parse(page).images == [] and "PNG not for sharing" not in page
    # the link and both spellings of the secret's path are one file (figures are listed once): 2 refusals
    assert page.count("lies outside the run directory; not embedded") == 2 and "/etc/passwd" in page


def test_sensitivity_report_shows_the_indices_of_the_run(tmp_path):
    """A `ketamine sensitivity --out DIR` run is recognised by its manifest's method and indices.csv; the page
    holds every index of indices.csv and the figure, and no cohort bands are drawn for it."""
    import csv

    import numpy as np

    from pkpd.sensitivity import Factor, run_sensitivity

    def model(X):  # y = x1 + 2 x2: known ranking
        return (X[:, 0] + 2 * X[:, 1])[:, None]

    out = tmp_path / "sens"
    run_sensitivity(model, [Factor("x1", 0.0, 1.0), Factor("x2", 0.0, 1.0)], ["y"], method="sobol", n=16, seed=0,
                    out=out)
    page = write_report(out).read_text()
    assert "kind sensitivity" in page and not (out / "bands.png").exists()
    with open(out / "indices.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    from circuits.report import _fmt

    for r in rows:
        assert f'<td class="num">{html.escape(_fmt(float(r["ST"])))}</td>' in page
    assert page.count("data:image/png;base64,") >= 1
    assert np.isfinite([float(r["ST"]) for r in rows]).all()
