"""A sequence classifier: optional embedding → sparse recurrent stack → linear read-out."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from sparsernn.nn.cells import make_rnn
from sparsernn.nn.inputs import check_classifier_args, check_input, check_num_classes, checked_lengths


class SequenceClassifier(torch.nn.Module):
    """Classify padded, batch-first sequences with a sparse RNN/LSTM/GRU.

    Parameters
    ----------
    cell : str
        Recurrent cell, a ``CELLS`` name: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"``.
    num_classes : int
        Number of output logits.
    hidden_size, num_layers : int
        Width and depth of the recurrent stack (``.rnn``, batch first).
    input_size : int, optional
        Feature width F of float inputs ``(B, T, F)``. Give exactly one of ``input_size``, ``vocab_size``.
    vocab_size : int, optional
        Number of token codes of long inputs ``(B, T)``; adds ``Embedding(vocab_size, embedding_dim)``.
    embedding_dim : int
        Embedding width for token inputs.
    readout : {"last", "last_valid"}
        ``"last"`` reads the last time step of the padded sequence (what the Darji study did, so a
        padded sequence is read after its padding); ``"last_valid"`` packs the sequences with their
        ``lengths`` so the read-out is each sequence's own last step and padding is never read.
    dropout : float
        Dropout between recurrent layers (torch semantics).
    bias : bool
        Biases in the recurrent layers.

    Examples
    --------
    >>> model = SequenceClassifier("lstm", 2, 50, 3, vocab_size=128, readout="last_valid")
    >>> x = torch.tensor([[66, 84, 83, 69], [66, 80, 69, 0]])
    >>> model(x, lengths=torch.tensor([4, 3])).shape
    torch.Size([2, 2])
    >>> SequenceClassifier.from_config(model.config).config == model.config
    True
    """

    def __init__(
        self,
        cell: str,
        num_classes: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        input_size: int | None = None,
        vocab_size: int | None = None,
        embedding_dim: int = 50,
        readout: str = "last",
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_classifier_args(input_size, vocab_size, readout)
        check_num_classes(num_classes)
        self._config = {
            "cell": cell,
            "num_classes": num_classes,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "input_size": input_size,
            "vocab_size": vocab_size,
            "embedding_dim": embedding_dim,
            "readout": readout,
            "dropout": dropout,
            "bias": bias,
        }
        self.embedding = None if vocab_size is None else torch.nn.Embedding(vocab_size, embedding_dim)
        rnn_input = embedding_dim if input_size is None else input_size
        self.rnn = make_rnn(
            cell, rnn_input, hidden_size, num_layers, batch_first=True, dropout=dropout, bias=bias
        )
        self.head = torch.nn.Linear(hidden_size, num_classes)

    @property
    def readout(self) -> str:
        """``"last"`` or ``"last_valid"`` (see the class docstring); assigning it updates :attr:`config`.

        Examples
        --------
        >>> model = SequenceClassifier("gru", 2, 4, input_size=3)
        >>> model.readout = "last_valid"
        >>> model.config["readout"]
        'last_valid'
        """
        return self._config["readout"]

    @readout.setter
    def readout(self, value: str) -> None:
        check_classifier_args(self._config["input_size"], self._config["vocab_size"], value)
        self._config["readout"] = value

    @property
    def config(self) -> dict[str, object]:
        """The constructor arguments (JSON-serialisable): ``SequenceClassifier(**config)`` rebuilds it.

        It describes the module as it is: ``readout`` and ``rnn.dropout`` changed after construction
        included, so a checkpoint rebuilds what the module computes.
        """
        return {**self._config, "dropout": self.rnn.dropout}

    @classmethod
    def from_config(cls, config: dict[str, object]) -> SequenceClassifier:
        """Build an untrained classifier from :attr:`config`."""
        return cls(**config)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits ``(B, C)`` for ``x`` ``(B, T)`` tokens or ``(B, T, F)`` features.

        ``lengths`` ``(B,)`` are the true sequence lengths; only the ``"last_valid"`` read-out uses
        them (``None`` means every sequence fills all T steps).
        """
        check_input(x, vocab_size=self._config["vocab_size"], input_size=self._config["input_size"])
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T) -> (B, T, E)
        # x: (B, T, F)
        if self.readout == "last_valid" and lengths is not None:
            lengths = checked_lengths(lengths, x.shape[0], x.shape[1])
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, state = self.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state  # (L, B, H); an LSTM gives (h_n, c_n)
        # h_n[-1] is the top layer at the last step read: the padded sequence's last step (equal to the
        # output at t = T-1), or each packed sequence's own last valid step.
        return self.head(h_n[-1])  # (B, H) -> (B, C)
