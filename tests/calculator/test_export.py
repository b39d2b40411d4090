"""The exported forms of a potential give the eager numbers, or say why they cannot be built."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from e3lab.calculator import E3labCalculator, ExportError

from ._potentials import PairPotential, periodic_structure, tiny_potential


def _energy_forces_stress(calc, atoms, stress):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress() if stress else None


def _same_as_eager(model, form, stress=False):
    """The traced form of ``model`` gives the eager numbers on two periodic structures (one trace each for
    energy-and-forces and, with ``stress``, energy-forces-and-stress)."""
    eager, traced = E3labCalculator(model), E3labCalculator(model, form=form)
    for atoms in (periodic_structure(seed=1), periodic_structure(seed=2, repeat=1)):  # 32 and 4 atoms
        energy, forces, virial = _energy_forces_stress(traced, atoms, stress)
        reference = _energy_forces_stress(eager, atoms, stress)
        assert energy == pytest.approx(reference[0], abs=1e-10)
        np.testing.assert_allclose(forces, reference[1], atol=1e-10)
        if stress:
            np.testing.assert_allclose(virial, reference[2], atol=1e-12)
    assert set(traced._exported) == ({False, True} if stress else {False})
    assert all(exported.form == form for exported in traced._exported.values())
    return traced


def test_export_gives_the_eager_numbers_for_any_size():
    _same_as_eager(PairPotential(), "export")


@pytest.mark.slow
def test_aoti_gives_the_eager_numbers_for_any_size():
    _same_as_eager(PairPotential(), "aoti")


def test_an_e3lab_potential_exports_to_the_eager_numbers_on_its_kernels():
    calc = _same_as_eager(tiny_potential(), "export")
    operators = {str(node.target) for node in calc._exported[False].program.graph.nodes}
    # the product and its backward (the forces) run as e3lab's operators on the native kernel, not as einsums
    assert {"e3lab.tp_product.default", "e3lab.tp_product_grad.default"} <= operators


def test_an_e3lab_potential_exports_its_stress_to_the_eager_numbers():
    _same_as_eager(tiny_potential(), "export", stress=True)


@pytest.mark.slow
def test_an_e3lab_potential_compiles_with_aoti_to_the_eager_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _same_as_eager(tiny_potential(), "aoti", stress=True)
    assert not list(tmp_path.glob("e3lab_aoti_*"))  # the compiled packages are loaded, then removed


class _DataDependentPotential(PairPotential):
    """Reads a value of a tensor (a data-dependent Python branch): no symbolic trace exists."""

    def predict(self, batch, forces=True, stress=False, create_graph=False):
        if float(batch.pos.abs().max()) > 1e6:
            raise ValueError("positions are too large")
        return super().predict(batch, forces, stress, create_graph)


def test_a_potential_that_cannot_be_traced_says_where():
    with pytest.raises(ExportError) as err:
        _same_as_eager(_DataDependentPotential(), "export")
    message = str(err.value)
    assert "cannot be exported" in message and "form='eager'" in message
    assert "test_export.py" in message or "GuardOnDataDependentSymNode" in message


def test_bad_form_is_refused():
    with pytest.raises(ValueError, match="form='onnx'"):
        E3labCalculator(PairPotential(), form="onnx")
