"""Every exercise notebook runs to the end when a student answers every exercise in a way
of their own: each stub of ``notebooks/`` is replaced by a valid answer written
differently from the official solution, and the notebook is executed with the smoke
budget (seconds; the numbers mean nothing) and without the cells tagged ``claim``.

This catches a later cell that needs a name only the official solution defines (the
student's answer defines only what the exercise text asks for), and a checker that
refuses a correct answer written another way. A new exercise needs an entry in
``ALTERNATIVES`` (keyed by the hint of its ``### BEGIN SOLUTION`` line), or this fails.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools.execute_solutions import execute

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUB = re.compile(
    r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\((?P<hint>\".*\")\)$",
    re.MULTILINE,
)

# One answer per exercise, as a student might write it: other names for the helpers,
# other libraries, and nothing beyond what the exercise text asks for.
ALTERNATIVES = {
    # chapter 1
    "split X, y_binary into X_train, X_val, X_test, y_train, y_val, y_test": """
        rows = np.arange(len(y_binary))
        keep, test_rows = train_test_split(rows, test_size=0.2, stratify=y_binary,
                                           random_state=SEED)
        train_rows, val_rows_ = train_test_split(keep, test_size=0.25,
                                                 stratify=y_binary[keep], random_state=SEED)
        X_train, X_val, X_test = X[train_rows], X[val_rows_], X[test_rows]
        y_train, y_val, y_test = y_binary[train_rows], y_binary[val_rows_], y_binary[test_rows]
    """,
    "train with an optimizer, evaluate without; return the mean loss per sample": """
        losses, sizes = [], []
        if optimizer is None:
            model.eval()
            with torch.inference_mode():
                for xb, yb in loader:
                    losses.append(criterion(model(xb.to(device)), yb.to(device)).item())
                    sizes.append(len(yb))
        else:
            model.train()
            for xb, yb in loader:
                model.zero_grad()
                batch_loss = criterion(model(xb.to(device)), yb.to(device))
                batch_loss.backward()
                optimizer.step()
                losses.append(batch_loss.item())
                sizes.append(len(yb))
        return float(np.average(losses, weights=sizes))
    """,
    "plot train_losses and val_losses on ax": """
        plt.figure(figsize=(6, 4))
        plt.plot(range(1, len(train_losses) + 1), train_losses, label="train")
        plt.plot(range(1, len(val_losses) + 1), val_losses, label="val")
        plt.xlabel("epoch")
        plt.ylabel("loss")
        plt.title("Loss curves")
        plt.legend()
        ax = plt.gca()
    """,
    "compute proba, test_accuracy and test_auc": """
        model.eval()
        with torch.inference_mode():
            logits_test = model(torch.as_tensor(X_test, dtype=torch.float32).to(device))
        proba = torch.softmax(logits_test.float(), dim=1).cpu().numpy()
        test_accuracy = float(np.mean(proba.argmax(axis=1) == y_test))
        test_auc = float(roc_auc_score(y_test, proba[:, 1] - proba[:, 0]))
    """,
    "one row (fraction, samples, roc_auc) per fraction": """
        records = []
        for fraction in fractions:
            k = max(1, int(np.rint(fraction * X.shape[1])))
            p = predict_proba(model, X[:, :k])
            records.append((fraction, k, roc_auc_score(y, p[:, 1])))
        return pd.DataFrame.from_records(records, columns=["fraction", "samples", "roc_auc"])
    """,
    # chapter 2
    "make sampler, X_bal and y_bal": """
        sampler = RandomUnderSampler(sampling_strategy="not minority", random_state=SEED)
        frame, labels = sampler.fit_resample(pd.DataFrame(X_train), pd.Series(y_train))
        X_bal, y_bal = frame.to_numpy(), labels.to_numpy()
    """,
    "make x from X_bal[:8] and compute logits": """
        x = torch.from_numpy(X_bal[:8]).float()
        logits = model(x.to(next(model.parameters()).device))
    """,
    "compute proba_seed in batches of 100": """
        from torch.utils.data import DataLoader, TensorDataset

        model.eval()
        parts = []
        loader = DataLoader(TensorDataset(torch.from_numpy(X_test)), batch_size=100)
        with torch.inference_mode():
            for (xb,) in loader:
                with chosen.autocast():  # the section above: 16-bit where the hardware has it
                    logits_batch = model(xb.to(device))
                parts.append(torch.softmax(logits_batch.float(), dim=-1).cpu().numpy())
        proba_seed = np.concatenate(parts)
    """,
    "build table_seed": """
        from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
        from sklearn.preprocessing import label_binarize

        labels = np.arange(len(CLASSES))
        predicted = proba_seed.argmax(axis=1)
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_test, predicted, labels=labels, average=None, zero_division=0)
        truth = label_binarize(y_test, classes=labels)
        table_seed = pd.DataFrame({
            "accuracy": (truth == label_binarize(predicted, classes=labels)).mean(axis=0),
            "roc_auc": roc_auc_score(truth, proba_seed, average=None),
            "precision": precision, "recall": recall, "f1": f1,
        }, index=CLASSES)
    """,
    "send X_test in batches of 100; build answers and latencies": """
        session = requests.Session()
        replies, latencies = [], []
        for batch in np.array_split(X_test, range(100, len(X_test), 100)):
            csv_text = pd.DataFrame(batch).to_csv(header=False, index=False, float_format="%.9g")
            t0 = time.perf_counter()
            reply = session.post(INVOKE_URL, data=csv_text, headers={"Content-Type": "text/csv"})
            latencies.append(time.perf_counter() - t0)
            reply.raise_for_status()
            replies.append(pd.read_csv(io.StringIO(reply.text)))
        session.close()
        answers = pd.concat(replies).reset_index(drop=True)
    """,
    # chapter 3
    "compute the eight RR features of one record": """
        import numpy as np
        import pandas as pd

        t = np.asarray(r_peaks, dtype=np.float64) / fs
        gaps = np.diff(t)
        pre_rr, post_rr = np.append(gaps[0], gaps), np.append(gaps, gaps[-1])
        local_rr = pd.Series(pre_rr).rolling(10, min_periods=1).mean().to_numpy()
        record_rr = np.full(len(t), gaps.mean())
        return np.stack([pre_rr, post_rr, local_rr, record_rr, pre_rr / record_rr,
                         post_rr / record_rr, local_rr / record_rr, pre_rr / post_rr], axis=1)
    """,
    "match each annotated beat to a detection within tolerance": """
        import numpy as np

        reference, detected = np.asarray(reference), np.asarray(detected)
        matches = np.full(len(reference), -1)
        if len(detected) == 0 or len(reference) == 0:
            return matches
        # each detection's nearest annotated beat (the earlier one on a tie)
        after = np.clip(np.searchsorted(reference, detected), 0, len(reference) - 1)
        before = np.clip(after - 1, 0, len(reference) - 1)
        nearest = np.where(np.abs(detected - reference[before])
                           <= np.abs(reference[after] - detected), before, after)
        distance = np.abs(detected - reference[nearest])
        # each beat keeps the nearest detection closer than the tolerance: the farthest
        # are written first, the nearest (the earliest on a tie) last
        for j in sorted(np.flatnonzero(distance < tolerance), key=lambda j: (distance[j], j),
                        reverse=True):
            matches[nearest[j]] = j
        return matches
    """,
    "build the AAMI table aami_rhythm of Se and +P per class": """
        from sklearn.metrics import confusion_matrix

        counts = confusion_matrix(y_ds2, pred_rhythm, labels=np.arange(len(CLASSES)))
        hits = np.diag(counts).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):  # +P of a class never predicted
            aami_rhythm = pd.DataFrame(
                {"Se": hits / counts.sum(axis=1), "+P": hits / counts.sum(axis=0)}, index=CLASSES)
    """,
}


def _stubs(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        ast.literal_eval(m.group("hint")).removeprefix("Exercise: ")
        for cell in nb.cells
        if cell.cell_type == "code"
        for m in STUB.finditer(cell.source)
    ]


def answered(path: Path) -> nbformat.NotebookNode:
    """The exercise notebook at ``path`` with every stub replaced by its alternative."""
    nb = nbformat.read(path, as_version=4)

    def replace(m: re.Match[str]) -> str:
        hint = ast.literal_eval(m.group("hint")).removeprefix("Exercise: ")
        answer = textwrap.dedent(ALTERNATIVES[hint]).strip("\n")
        return textwrap.indent(answer, m.group("indent"), lambda line: True)

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = STUB.sub(replace, cell.source)
    return nb


def test_every_exercise_has_an_alternative_answer():
    hints = [hint for path in NOTEBOOKS for hint in _stubs(path)]
    assert hints, "no exercise stubs found in notebooks/"
    missing = sorted(set(hints) - set(ALTERNATIVES))
    assert not missing, f"exercises without an alternative answer in ALTERNATIVES: {missing}"
    unused = sorted(set(ALTERNATIVES) - set(hints))
    assert not unused, f"ALTERNATIVES for exercises that no longer exist: {unused}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_alternative_answers(path, tmp_path):
    nb = answered(path)
    assert "NotImplementedError" not in "".join(c.source for c in nb.cells if c.cell_type == "code")
    target = tmp_path / path.name
    nbformat.write(nb, target)
    execute(target, save=False, overrides={"PRESET": "smoke"}, skip_tags={"claim"})


def _stored_names(source: str) -> set[str]:
    """Names a cell binds at top level (assignments, imports, defs)."""
    names = set()
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        else:
            names |= {
                n.id
                for n in ast.walk(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return names


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_later_cell_needs_a_name_only_a_claim_cell_defines(path):
    """A smoke run skips the cells tagged ``claim``: they may assert, not define."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    clean = [re.sub(r"^(\s*)[%!].*$", r"\1pass", c.source, flags=re.MULTILINE) for c in code]
    defined_elsewhere = set().union(
        *(
            _stored_names(s)
            for c, s in zip(code, clean, strict=True)
            if "claim" not in c.metadata.get("tags", [])
        )
    )
    for i, (cell, source) in enumerate(zip(code, clean, strict=True)):
        if "claim" not in cell.metadata.get("tags", []):
            continue
        only_here = _stored_names(source) - defined_elsewhere
        later = "\n".join(clean[i + 1 :])
        used = (
            {n.id for n in ast.walk(ast.parse(later)) if isinstance(n, ast.Name)}
            if later
            else set()
        )
        assert not only_here & used, (
            f"{path.name}: a claim cell defines {sorted(only_here & used)}, which later cells use; "
            "move the definition to an untagged cell, keep only the asserts in the claim cell"
        )
