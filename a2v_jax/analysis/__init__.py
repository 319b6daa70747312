"""Latent-space analysis (paper §4.1, Figs 2-5; appendix Figs 11-13) of any embeddings of a space.

    from a2v_jax.analysis import AnalysisConfig, run
    result = run(AnalysisConfig("all", space="nb201", dataset="cifar10",
                                embeddings=("arch2vec=runs/pre/embeddings.npz", "onehot", "random"),
                                out="runs/analysis"))

`python -m a2v_jax.analysis {predictive,smoothness,map,walk,all}` is the same from the shell.

| analysis   | question (paper)                                              | needs accuracies |
|------------|---------------------------------------------------------------|------------------|
| predictive | how well a GP on the encoding predicts accuracy (Fig 2)       | yes              |
| smoothness | does L2 distance grow with graph edit distance (Fig 3)        | no               |
| map        | do cells of similar accuracy lie together (t-SNE, Fig 4)      | yes              |
| walk       | how much do nearest neighbours in the latent space differ      | no               |
|            | as graphs (Figs 5, 11-13); decoded interpolation with a model |                  |

Modules: `encodings` (files and the built-in onehot / path / random encodings), `edit_distance`,
`predictive`, `smoothness`, `latent_map`, `walk`, `figures`, `config` (`AnalysisConfig`), `api`
(`run`), `__main__` (the command line).
"""

from .api import AnalysisResult, NoAccuracies, run
from .config import ANALYSES, THRESHOLDS, AnalysisConfig
from .edit_distance import EditDistance, edit_distance
from .encodings import BUILT_IN, Encoding, EncodingError

__all__ = [
    "ANALYSES",
    "BUILT_IN",
    "THRESHOLDS",
    "AnalysisConfig",
    "AnalysisResult",
    "EditDistance",
    "Encoding",
    "EncodingError",
    "NoAccuracies",
    "edit_distance",
    "run",
]
