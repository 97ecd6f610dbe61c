"""Issue 26: points and feedback, the formats courses use, a class at once."""

import csv
import fcntl
import io
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pytest.importorskip("nbclient", reason="nbclient not installed: pip install -e '.[test]'")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (nbformat's) not installed")

ROOT = Path(__file__).parent.parent
NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"
DERIVE = [sys.executable, "-m", "derive.cli"]
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
GRADESCOPE = {
    # written from Gradescope's autograder specification
    # (gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format")
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"}, "execution_time": {"type": "number"},
        "output": {"type": "string"}, "output_format": FORMAT,
        "test_output_format": FORMAT, "test_name_format": FORMAT,
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                "name_format": FORMAT, "number": {"type": "string"},
                "output": {"type": "string"}, "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY, "extra_data": {"type": "object"}}}},
        "leaderboard": {"type": "array"},
    },
    # the score is required unless every test carries its own
    "anyOf": [{"required": ["score"]},
              {"properties": {"tests": {"items": {"required": ["score"]}}},
               "required": ["tests"]}],
}


def derive(*argv, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*DERIVE, *map(str, argv)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_only_the_backward_pass_wrong_scores_the_forward_points_alone():
    """Partial credit: bug_7_1 (∂ℓ/∂f₁ wrong, exp′ broken) keeps the forward pass's 10
    points and none of the backward pass's, whose message names the suspect rule."""
    done = derive("grade", NOTEBOOKS / "bug_7_1.ipynb", "--json")
    graded = json.loads(done.stdout)["notebooks"][0]
    tests = {t["name"]: t for t in graded["tests"]}
    assert tests["forward pass"]["score"] == tests["forward pass"]["max_score"] == 10
    assert tests["forward pass"]["status"] == "passed"
    backward = tests["backward pass"]
    assert backward["score"] == 0 and backward["status"] == "failed"
    assert backward["output"].startswith("wrong: dldf1, dldh1, dldf0; first wrong step dldf1")
    assert "the rule for h₂ = exp[f₁] is the suspect" in backward["output"]
    assert tests["parameter gradients"]["score"] == 0
    assert "after the first wrong step, dldf1" in tests["parameter gradients"]["output"]
    assert graded["score"] == 10 and graded["max_score"] == 30


def test_a_rubric_file_sets_points_credit_and_visibility(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('notebook = "7.1"\n'
                      '[[test]]\nname = "forward"\npoints = 4\nquantities = ["f*", "h*", "l_i"]\n'
                      '[[test]]\nname = "gradients"\npoints = 15\nquantities = ["dld*"]\n'
                      'credit = "each"\nvisibility = "after_due_date"\n')
    done = derive("grade", NOTEBOOKS / "bug_7_1.ipynb", "--format", "gradescope",
                  "--rubric", rubric)
    results = json.loads(done.stdout)
    jsonschema.validate(results, GRADESCOPE)
    tests = {t["name"]: t for t in results["tests"]}
    assert tests["forward"]["score"] == 4
    # 15 gradients, 7 of them wrong (dldf1 and all that follows from it): 8 of 15 points
    assert tests["gradients"]["score"] == 8 and tests["gradients"]["max_score"] == 15
    assert tests["gradients"]["visibility"] == "after_due_date"
    assert results["score"] == 12


@pytest.mark.parametrize("text, said", [
    ('notebook = "7.9"\n[[test]]\nname = "a"\nquantities = ["f0"]\n', "notebook must be one of"),
    ('notebook = "7.1"\n', "no [[test]] tables"),
    ('notebook = "7.1"\n[[test]]\nname = "a"\nquantities = ["f0"]\ncredit = "some"\n',
     "credit must be 'all' or 'each'"),
    ('notebook = "7.1"\n[[test]]\nname = "a"\nquantities = ["f0"]\nvisibility = "soon"\n',
     "visibility must be one of"),
    ('notebook = "7.1"\n[[test]]\nname = "a"\nquantities = ["f0"]\npoint = 3\n',
     "unknown key 'point'"),
    ('notebook = "7.1"\n[[test]]\nname = "a"\n', "quantities must be a list"),
    ("notebook = \n", "bad rubric"),
])
def test_a_bad_rubric_is_one_line_exit_2_before_anything_runs(tmp_path, text, said):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(text)
    done = derive("grade", NOTEBOOKS / "completed_7_1.ipynb", "--rubric", rubric)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert said in done.stderr


def test_run_autograder_on_a_submission_laid_out_as_gradescope_lays_it_out(tmp_path):
    """The documented gradescope/run_autograder, run against /autograder/submission as
    Gradescope lays it out (here under AUTOGRADER_ROOT): results.json valid against the
    specification's schema; a submission with no notebook gets 0 and the reason."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source").mkdir()
    shutil.copy(NOTEBOOKS / "bug_7_1.ipynb", root / "submission" / "backprop.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "DERIVE": shutil.which("derive")
           or f"{sys.executable} -m derive.cli"}
    script = ROOT / "gradescope" / "run_autograder"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=root)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE)
    assert results["score"] == 10
    assert [t["name"] for t in results["tests"]] == ["forward pass", "backward pass",
                                                     "parameter gradients"]
    (root / "submission" / "backprop.ipynb").unlink()
    (root / "submission" / "notes.txt").write_text("I forgot the notebook")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=root)
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE)
    assert results["score"] == 0 and "no notebooks (*.ipynb)" in results["output"]


def test_a_folder_is_graded_whole_with_a_csv_and_a_rerun_skips_it(tmp_path):
    folder = tmp_path / "class"
    for k, name in enumerate(["completed_7_1", "bug_7_1", "completed_7_2"]):
        (folder / f"student{k}").mkdir(parents=True)
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", folder / f"student{k}" / "work.ipynb")
    (folder / "student3").mkdir()
    (folder / "student3" / "work.ipynb").symlink_to(NOTEBOOKS / "completed_7_1.ipynb")
    gradebook = tmp_path / "grades.csv"
    done = derive("grade", folder, "--csv", gradebook, "--html", tmp_path / "class.html")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "4 notebooks: 2 passed, 2 failed; 60 of 80 points"
    assert "a link out of the folder (not followed)" in done.stdout
    rows = list(csv.DictReader(io.StringIO(gradebook.read_text())))
    assert [r["score"] for r in rows] == ["30.0", "10.0", "20.0", "0"]
    assert rows[1]["forward pass"] == "10.0" and rows[1]["backward pass"] == "0.0"
    page = (tmp_path / "class.html").read_text()
    assert page.index('id="class-table"') < page.index("<h2>" + str(folder / "student0"))
    again = derive("grade", folder)
    assert again.stdout == done.stdout
    assert "3 notebook(s) graded before and unchanged" in again.stderr
    # a changed notebook is graded again, the others kept
    import nbformat
    nb = nbformat.read(NOTEBOOKS / "completed_7_1.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Fixed after the feedback."))
    nbformat.write(nb, folder / "student1" / "work.ipynb")
    third = derive("grade", folder)
    assert "2 notebook(s) graded before and unchanged" in third.stderr
    assert third.stdout.splitlines()[-1] == "4 notebooks: 3 passed, 1 failed; 80 of 80 points"


def test_a_class_shows_a_progress_bar_on_a_terminal(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for k in range(2):
        shutil.copy(NOTEBOOKS / "completed_7_1.ipynb", folder / f"s{k}.ipynb")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen([*DERIVE, "grade", str(folder)], stdout=subprocess.DEVNULL,
                               stderr=follower, env={**os.environ, "TQDM_DELAY": "0"})
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end closed: derive is done
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=300) == 0
    assert b"grading:" in seen and b"/2 [" in seen  # tqdm's "grading:  50%|...| 1/2 [..."
