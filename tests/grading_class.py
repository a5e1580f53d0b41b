"""A synthetic class of submissions for the grader, each with the points it must get.

Built from the exercise notebooks (``notebooks/``), as students fill them: the
official answers, the valid alternatives of ``test_exercise_alternatives``, an
untouched notebook, known wrong answers, the bad cases of issue 26 (invalid JSON,
another chapter, a ``SyntaxError``, an early exception, an endless loop, 20 GB, the
network, a write outside the working folder) and the cheating cases (printing
"Correct", redefining or patching a checker, deleting, reordering or adding cells,
another preset or seed, editing the test files, new cell ids).

``tests/test_grading.py`` grades a part of chapter 1's class in CI;
``benchmarks/bench_grading.py`` grades every chapter's whole class.
"""

from __future__ import annotations

import ast
import json
import random
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ecg_course.grading.exercises import NOTEBOOKS, POINTS, find_exercises, otter_tests_folder
from tests.test_exercise_alternatives import ALTERNATIVES, STUB

ROOT = Path(__file__).resolve().parents[1]
ESCAPE = Path("/tmp/ecg_course_grading_escape.txt")
"""A file outside the working folder that a submission tries to write."""


WRONG = {
    1: {
        "split": """
            X_rest, X_test, y_rest, y_test = train_test_split(
                X, y_binary, test_size=0.2, random_state=SEED)
            X_train, X_val, y_train, y_val = train_test_split(
                X_rest, y_rest, test_size=0.25, random_state=SEED)
        """,
        "run_epoch": """
            model.train(optimizer is not None)
            total = 0.0
            with torch.set_grad_enabled(optimizer is not None):
                for x, y in loader:
                    loss = criterion(model(x.to(device)), y.to(device))
                    if optimizer is not None:
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                    total += loss.item() * len(y)
            return total
        """,
        "loss_plot": """
            fig, ax = plt.subplots()
            ax.plot(train_losses)
            ax.plot(val_losses)
        """,
        "test_metrics": """
            proba = predict_proba(model, X_test)
            test_accuracy = accuracy_score(y_test, proba.argmax(axis=1))
            test_auc = roc_auc_score(y_test, proba[:, 0])
        """,
        "early_auc": """
            rows = []
            for f in fractions:
                k = max(1, int(round(f * X.shape[1])))
                proba = predict_proba(model, X)
                rows.append({"fraction": f, "samples": k, "roc_auc": roc_auc_score(y, proba[:, 1])})
            return pd.DataFrame(rows)
        """,
    },
    2: {
        "undersampling": """
            sampler = RandomUnderSampler(sampling_strategy="majority", random_state=SEED)
            X_bal, y_bal = sampler.fit_resample(X_train, y_train)
        """,
        "lstm_fcn_output": """
            x = torch.tensor(X_bal[:4], dtype=torch.float32)
            logits = model(x)
        """,
        "batched_inference": """
            chunks = []
            with torch.no_grad():
                for i in range(0, len(X_test), 100):
                    batch = torch.tensor(X_test[i:i + 100], dtype=torch.float32, device=device)
                    chunks.append(torch.softmax(model(batch), dim=1).cpu())
            proba_seed = torch.cat(chunks).numpy()
        """,
        "per_class_table": """
            from sklearn import metrics as skm

            rows = {}
            for c, class_name in enumerate(CLASSES):
                truth, predicted = y_test == c, pred_seed == c
                rows[class_name] = {
                    "accuracy": skm.accuracy_score(truth, predicted),
                    "roc_auc": skm.roc_auc_score(truth, predicted),
                    "precision": skm.precision_score(truth, predicted, zero_division=0),
                    "recall": skm.recall_score(truth, predicted),
                    "f1": skm.f1_score(truth, predicted),
                }
            table_seed = pd.DataFrame.from_dict(rows, orient="index")
        """,
        "endpoint_client": """
            chunks, latencies = [], []
            for start in range(0, len(X_test) // 2, 100):
                body = format_beats(X_test[start:start + 100])
                sent = time.perf_counter()
                response = requests.post(INVOKE_URL, data=body,
                                         headers={"Content-Type": "text/csv"})
                latencies.append(time.perf_counter() - sent)
                chunks.append(pd.read_csv(io.StringIO(response.text)))
            answers = pd.concat(chunks, ignore_index=True)
        """,
    },
    3: {
        "rr_features": """
            t = np.asarray(r_peaks, dtype=float) / fs * 1000
            rr = np.diff(t)
            pre = np.concatenate([rr[:1], rr])
            post = np.concatenate([rr, rr[-1:]])
            local = np.array([pre[max(0, i - 9): i + 1].mean() for i in range(len(pre))])
            record_rr = np.full(len(t), (t[-1] - t[0]) / (len(t) - 1))
            return np.stack([pre, post, local, record_rr, pre / record_rr, post / record_rr,
                             local / record_rr, pre / post], axis=1)
        """,
        "aami_table": """
            rows = {}
            for c, name in enumerate(CLASSES):
                tp = np.sum((pred_rhythm == c) & (y_ds2 == c))
                called = np.sum(pred_rhythm == c)
                rows[name] = {"Se": tp / called if called else np.nan,
                              "+P": tp / np.sum(y_ds2 == c)}
            aami_rhythm = pd.DataFrame(rows).T
        """,
        "beat_matching": """
            reference = np.asarray(reference)
            matched = np.full(len(reference), -1, dtype=np.int64)
            for j, d in enumerate(detected):
                i = int(np.argmin(np.abs(reference - d)))
                if abs(int(reference[i]) - int(d)) < tolerance:
                    matched[i] = j
            return matched
        """,
    },
}
"""Per chapter and exercise, a wrong answer (the body that replaces the stub)."""


@dataclass
class Submission:
    """One synthetic submission: how to write it, and what it must score."""

    name: str
    write: Callable[[Path], None]
    points: dict[str, float]
    status: str = ""
    """A fragment the row's status must contain (empty: the status must be empty)."""
    messages: dict[str, str] = field(default_factory=dict)
    """Per exercise, a fragment its message must contain."""


def _official_answers(chapter: int) -> dict[str, str]:
    """Exercise name -> the solution's answer region (markers dropped), dedented."""
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOKS[chapter], as_version=4)
    by_id = {c.get("id"): c for c in solution.cells}
    answers = {}
    for exercise in find_exercises(solution, chapter):
        lines = by_id[exercise.answer_cell].source.splitlines()
        begin = next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
        end = next(i for i, line in enumerate(lines) if "### END SOLUTION" in line)
        answers[exercise.name] = textwrap.dedent("\n".join(lines[begin + 1 : end]))
    return answers


def _hints(chapter: int) -> dict[str, str]:
    """Exercise name -> the hint of its stub in the exercise notebook."""
    exercise_nb = nbformat.read(ROOT / "notebooks" / NOTEBOOKS[chapter], as_version=4)
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOKS[chapter], as_version=4)
    by_id = {c.get("id"): c for c in exercise_nb.cells}
    hints = {}
    for exercise in find_exercises(solution, chapter):
        match = STUB.search(by_id[exercise.answer_cell].source)
        hints[exercise.name] = ast.literal_eval(match.group("hint")).removeprefix("Exercise: ")
    return hints


def filled(chapter: int, answers: dict[str, str | None]) -> nbformat.NotebookNode:
    """Chapter ``chapter``'s exercise notebook with each stub replaced: by
    ``answers[name]`` when given (``None``: left as the stub), else the official answer."""
    official, hints = _official_answers(chapter), _hints(chapter)
    by_hint = {hint: name for name, hint in hints.items()}
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOKS[chapter], as_version=4)

    def replace(match: re.Match[str]) -> str:
        name = by_hint[ast.literal_eval(match.group("hint")).removeprefix("Exercise: ")]
        answer = answers.get(name, official[name])
        if answer is None:
            return match.group(0)
        body = textwrap.dedent(answer).strip("\n")
        return textwrap.indent(body, match.group("indent"), lambda line: True)

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = STUB.sub(replace, cell.source)
    return notebook


def _writer(notebook: nbformat.NotebookNode) -> Callable[[Path], None]:
    return lambda path: nbformat.write(notebook, path)


def _alternatives(chapter: int) -> dict[str, str]:
    return {name: ALTERNATIVES[hint] for name, hint in _hints(chapter).items()}


def _answer_cell(notebook: nbformat.NotebookNode, chapter: int, name: str) -> nbformat.NotebookNode:
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOKS[chapter], as_version=4)
    cell_id = next(e.answer_cell for e in find_exercises(solution, chapter) if e.name == name)
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def _with_cell_prefix(chapter: int, name: str, prefix: str) -> nbformat.NotebookNode:
    """The official answers, with ``prefix`` run first in ``name``'s answer cell."""
    notebook = filled(chapter, {})
    cell = _answer_cell(notebook, chapter, name)
    cell.source = textwrap.dedent(prefix).strip("\n") + "\n" + cell.source
    return notebook


INDEPENDENT = {1: "loss_plot", 2: "lstm_fcn_output", 3: "rr_features"}
"""Per chapter, an exercise no later exercise depends on: the bad and cheating cases put
their trouble there, so the other exercises must still score."""

EARLY = {
    1: ("split", {"run_epoch"}),
    # the seed model is built before its training fails and is scored as it is; the better
    # recipe and the endpoint train on their own beats
    2: ("undersampling", {"batched_inference", "per_class_table", "endpoint_client"}),
    3: ("rr_features", {"aami_table", "beat_matching"}),
}
"""Per chapter, an early exercise, and the exercises that still score when it raises."""


def synthetic_class(chapter: int) -> list[Submission]:
    """Every synthetic submission of chapter ``chapter``, in a stable order."""
    full = {name: float(p) for name, p in POINTS[chapter].items()}

    def but(*zero: str) -> dict[str, float]:
        return {name: 0.0 if name in zero else p for name, p in full.items()}

    nothing = {name: 0.0 for name in full}
    other = 1 if chapter != 1 else 2
    independent = INDEPENDENT[chapter]
    test_file = otter_tests_folder(chapter) / f"{independent}.py"
    early, survivors = EARLY[chapter]
    subs = [
        Submission("official", _writer(filled(chapter, {})), full),
        Submission("alternatives", _writer(filled(chapter, _alternatives(chapter))), full),
        Submission("untouched", _writer(filled(chapter, dict.fromkeys(full))), nothing),
    ]
    for name, answer in WRONG[chapter].items():
        subs.append(
            Submission(f"wrong-{name}", _writer(filled(chapter, {name: answer})), but(name))
        )
    mixed = dict(list(WRONG[chapter].items())[::2])
    subs.append(Submission("wrong-mixed", _writer(filled(chapter, mixed)), but(*mixed)))

    # bad submissions: scored, never fatal
    subs += [
        Submission(
            "bad-invalid-json",
            lambda p: p.write_text('{"cells": [ {"cell_type": '),
            nothing,
            status="not a readable notebook",
        ),
        Submission(
            "bad-other-chapter",
            _writer(filled(other, {})),
            nothing,
            status=f"not a chapter {chapter} notebook",
        ),
        Submission(
            "bad-syntax-error",
            _writer(filled(chapter, {independent: "x = (\n"})),
            but(independent),
            messages={independent: "SyntaxError"},
        ),
        Submission(
            "bad-early-exception",
            _writer(filled(chapter, {early: 'raise RuntimeError("my bug")'})),
            {n: (p if n in survivors else 0.0) for n, p in full.items()},
            messages={early: "RuntimeError: my bug"},
        ),
        Submission(
            "bad-endless-loop",
            _writer(_with_cell_prefix(chapter, independent, "while True:\n    pass")),
            but(independent),
            messages={independent: "time limit"},
        ),
        Submission(
            "bad-20-gb",
            _writer(
                _with_cell_prefix(
                    chapter, independent, "import numpy\nbig = numpy.ones(20 * 2**30 // 8)"
                )
            ),
            but(independent),
            messages={independent: "MemoryError"},
        ),
        Submission(
            "bad-network",
            _writer(
                _with_cell_prefix(
                    chapter,
                    independent,
                    "import urllib.request\n"
                    "urllib.request.urlopen('http://93.184.216.34', "
                    "timeout=5)",
                )
            ),
            but(independent),
            messages={independent: "URLError"},
        ),
        Submission(
            "bad-write-outside",
            _writer(
                _with_cell_prefix(
                    chapter, independent, f"open({str(ESCAPE)!r}, 'w').write('escaped')"
                )
            ),
            but(independent),
            messages={independent: "Read-only file system"},
        ),
    ]

    # cheating: no points it did not earn
    def deleted(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        keep = {
            e.answer_cell
            for e in find_exercises(
                nbformat.read(ROOT / "solutions" / NOTEBOOKS[chapter], as_version=4), chapter
            )
        }
        nb.cells = [c for c in nb.cells if c.get("id") in keep]
        return nb

    def reordered(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        nb.cells = nb.cells[::-1]
        return nb

    def new_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        rng = random.Random(chapter)
        for cell in nb.cells:
            cell.id = f"{rng.getrandbits(64):016x}"
        return nb

    def parameters(nb: nbformat.NotebookNode, line: str) -> nbformat.NotebookNode:
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source += "\n" + line
        return nb

    def extra_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        cell = _answer_cell(nb, chapter, independent)
        at = nb.cells.index(cell)
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell("raise RuntimeError('added cell')"))
        return nb

    wrong_independent = WRONG[chapter][independent]
    prints = f'{textwrap.dedent(wrong_independent).strip()}\nprint("Correct: well done.")'
    subs += [
        Submission(
            "cheat-prints-correct",
            _writer(filled(chapter, {independent: prints})),
            but(independent),
        ),
        Submission(
            "cheat-redefines-checker",
            _writer(
                _with_cell_prefix(
                    chapter,
                    independent,
                    f"def check_{independent}(*args, **kwargs):\n    print('Correct')",
                )
            ),
            nothing,
            status="tampering",
        ),
        Submission(
            "cheat-patches-checks",
            _writer(_with_cell_prefix(chapter, independent, f"checks.check_{independent} = print")),
            nothing,
            status="tampering",
        ),
        Submission("cheat-deletes-cells", _writer(deleted(filled(chapter, {}))), full),
        Submission("cheat-reorders-cells", _writer(reordered(filled(chapter, {}))), full),
        Submission("cheat-new-cell-ids", _writer(new_ids(filled(chapter, {}))), full),
        Submission("cheat-adds-a-cell", _writer(extra_cell(filled(chapter, {}))), full),
        Submission(
            "cheat-preset",
            _writer(parameters(filled(chapter, {}), 'PRESET = "no-such-preset"')),
            full,
        ),
        Submission("cheat-seed", _writer(parameters(filled(chapter, {}), "SEED = 12345")), full),
        Submission(
            "cheat-edits-test-file",
            _writer(
                _with_cell_prefix(
                    chapter, independent, f"open({str(test_file)!r}, 'w').write('points = 99')"
                )
            ),
            but(independent),
            messages={independent: "Read-only file system"},
        ),
    ]
    return subs


def write_class(chapter: int, folder: Path, names: set[str] | None = None) -> list[Submission]:
    """Write chapter ``chapter``'s class (or the submissions named in ``names``) to
    ``folder/<name>.ipynb``; return them."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in synthetic_class(chapter) if names is None or s.name in names]
    for submission in chosen:
        submission.write(folder / f"{submission.name}.ipynb")
    return chosen


def mismatches(submissions: list[Submission], rows: list[tuple[str, dict]]) -> list[str]:
    """What differs between the gradebook ``rows`` and what each submission must get."""
    by_name = {name.removesuffix(".ipynb"): outcome for name, outcome in rows}
    problems = []
    for sub in submissions:
        outcome = by_name.get(sub.name)
        if outcome is None:
            problems.append(f"{sub.name}: no row")
            continue
        got = {n: r["score"] for n, r in outcome["exercises"].items()}
        if got != sub.points:
            problems.append(
                f"{sub.name}: points {got}, expected {sub.points}; {json.dumps(outcome)[:600]}"
            )
        if (sub.status and sub.status not in outcome["status"]) or (
            not sub.status and outcome["status"]
        ):
            problems.append(f"{sub.name}: status {outcome['status']!r}, expected {sub.status!r}")
        for name, fragment in sub.messages.items():
            if fragment not in outcome["exercises"][name]["message"]:
                problems.append(
                    f"{sub.name}: {name} message "
                    f"{outcome['exercises'][name]['message']!r} lacks {fragment!r}"
                )
    return problems
