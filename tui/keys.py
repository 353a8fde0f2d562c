"""Every key svdlens answers to, in one table: bindings, the rank field's keys, help and hints come from it.

Each row is one line of the help screen (section by section, in the order shown) with the
bindings that do what it says. Who answers a binding is the row's scope:

- "app": App.BINDINGS (shown in the footer in FOOTER_ORDER, by binding id);
- "preview": the preview pane's bindings (`bindings("preview")`, `pane_hint(...)` for its status line);
- "gallery", "curves", "components": the teaching views' own bindings (tui/views), active while shown;
- rows without bindings only explain (Enter, Tab, the command palette).

The rank field is an Input, which would swallow the rank keys as text; it takes the bindings
whose id starts with "rank-" itself, plus the row's `field` bindings (↑ ↓ and shift with them),
see `rank_field_keys()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.actions import parse as parse_action
from textual.binding import Binding


@dataclass(frozen=True)
class KeyRow:
    """One help-screen line: the keys as shown, what they do, and the bindings behind them."""

    keys: str
    what: str
    bindings: tuple[Binding, ...] = ()
    field: tuple[Binding, ...] = ()  # more keys for the same actions, in the rank field only
    scope: str = "app"
    hint: str = ""  # the words in the scope's status line while it has focus
    error_hint: str = ""  # more words shown only in the error view


@dataclass(frozen=True)
class KeySection:
    """A titled group of rows on the help screen."""

    title: str
    rows: tuple[KeyRow, ...]


TABLE: tuple[KeySection, ...] = (
    KeySection("Rank: these work everywhere, also while typing in the rank field", (
        KeyRow("Enter", "apply what is typed: 50 (rank), 99% or 0.99 (energy share), 32dB (PSNR), "
                        "200k (.svdz bytes, k = 1024)"),
        KeyRow("+  -", "rank +1 / −1 (also ↑ ↓ in the rank field)", (
            Binding("plus,equals_sign", "step_rank(1)", "rank+1", key_display="+", id="rank-up"),
            Binding("minus,underscore", "step_rank(-1)", "rank−1", key_display="-", id="rank-down"),
        ), field=(Binding("up", "step_rank(1)"), Binding("down", "step_rank(-1)"))),
        KeyRow("PgUp  PgDn", "rank +10 / −10 (also shift+↑ shift+↓ in the rank field)", (
            Binding("pageup", "step_rank(10)", "+10", key_display="PgUp", id="rank-up-10"),
            Binding("pagedown", "step_rank(-10)", "−10", key_display="PgDn", id="rank-down-10"),
        ), field=(Binding("shift+up", "step_rank(10)"), Binding("shift+down", "step_rank(-10)"))),
        KeyRow("*  /", "double / halve the rank", (
            Binding("asterisk", "scale_rank(2)", "×2", key_display="*", id="rank-double"),
            Binding("slash", "scale_rank(0.5)", "÷2", key_display="/", id="rank-halve"),
        )),
        KeyRow("F7", "next classic rank below the current one: 500 250 100 50 25 10, then 500 again",
               (Binding("f7", "next_preset", "500…10", id="preset"),)),
        KeyRow("F8", "next energy share: 90 % 99 % 99.9 %", (Binding("f8", "next_energy", "energy", id="energy"),)),
    )),
    KeySection("Image and views", (
        KeyRow("F2  ctrl+o", "open an image by path, or a folder to browse",
               (Binding("f2,ctrl+o", "open", "open", id="open"),)),
        KeyRow("F3  ctrl+s", "save the reconstruction (.png .jpg .webp) or the factors (.svdz)",
               (Binding("f3,ctrl+s", "save", "save", id="save"),)),
        KeyRow("F4", "grey / colour", (Binding("f4", "toggle_mode", "grey/colour", id="mode"),)),
        KeyRow("F5", "view: side by side → single → error map → gallery → curves → components",
               (Binding("f5", "cycle_view", "view", id="view"),)),
        KeyRow("ctrl+g", "gallery: the original and ranks 500 250 100 50 25 10 with their bytes and PSNR",
               (Binding("ctrl+g", "set_view('gallery')", "gallery", show=False, id="gallery"),)),
        KeyRow("ctrl+t", "curves: energy kept and PSNR against rank, .svdz bytes, JPEG at the same bytes",
               (Binding("ctrl+t", "set_view('curves')", "curves", show=False, id="curves"),)),
        KeyRow("ctrl+l", "components: the rank-r image and the layer σᵣuᵣvᵣᵀ that rank adds",
               (Binding("ctrl+l", "set_view('components')", "layers", show=False, id="components"),)),
        KeyRow("F6", "A/B flip: show the original in place of the reconstruction",
               (Binding("f6", "flip", "A/B", id="flip"),)),
        KeyRow("F9", "show / hide the file pane (hidden below 120 columns); Enter opens",
               (Binding("f9", "toggle_files", "files", id="files"),)),
    )),
    KeySection("Preview pane, when it has focus (Tab to it)", (
        KeyRow("← → ↑ ↓  h j k l", "pan (with shift: bigger steps)", (
            Binding("left,h", "pan(-1, 0)", "pan", show=False),
            Binding("right,l", "pan(1, 0)", "pan", show=False),
            Binding("up,k", "pan(0, -1)", "pan", show=False),
            Binding("down,j", "pan(0, 1)", "pan", show=False),
            Binding("shift+left,H", "pan(-4, 0)", "pan more", show=False),
            Binding("shift+right,L", "pan(4, 0)", "pan more", show=False),
            Binding("shift+up,K", "pan(0, -4)", "pan more", show=False),
            Binding("shift+down,J", "pan(0, 4)", "pan more", show=False),
        ), scope="preview", hint="hjkl pan"),
        KeyRow("]  [  0", "zoom in / out / fit", (
            Binding("right_square_bracket", "zoom_in", "zoom in", key_display="]"),
            Binding("left_square_bracket", "zoom_out", "zoom out", key_display="["),
            Binding("0", "zoom_fit", "fit"),
        ), scope="preview", hint="] [ zoom  0 fit"),
        KeyRow("m", "go to the largest error (at 1:1)", (Binding("m", "go_to_worst", "worst error"),),
               scope="preview", hint="m worst"),
        KeyRow("v  f  g", "view / A/B flip / error-map gain", (
            Binding("v", "cycle_view", "view", show=False),
            Binding("f", "toggle_flip", "A/B"),
            Binding("g", "cycle_gain", "error gain", show=False),
        ), scope="preview", hint="v view  f flip", error_hint="g gain"),
    )),
    KeySection("Gallery, curves and components (they take the keys when shown; digits still go to the rank field)", (
        KeyRow("← → ↑ ↓  Enter", "gallery: move between tiles; Enter makes that tile's rank the current one", (
            Binding("left,h", "move(-1, 0)", "tile", show=False),
            Binding("right,l", "move(1, 0)", "tile", show=False),
            Binding("up,k", "move(0, -1)", "tile", show=False),
            Binding("down,j", "move(0, 1)", "tile", show=False),
            Binding("enter", "choose", "use this rank"),
        ), scope="gallery"),
        KeyRow("l  c", "curves: log / linear rank axis; next plot (when only one fits)", (
            Binding("l", "toggle_log", "log/linear rank"),
            Binding("c", "next_plot", "next plot"),
        ), scope="curves"),
        KeyRow("s  n  space", "components: one layer / the last k layers; change k; "
                              "play the build-up 1 → 2 → … (any key stops)", (
            Binding("s", "toggle_sum", "layer / last k"),
            Binding("n", "next_count", "k"),
            Binding("space", "play", "play"),
        ), scope="components"),
    )),
    KeySection("Everywhere", (
        KeyRow("Tab  shift+Tab", "move between file pane, rank field and preview"),
        KeyRow("ctrl+p", "command palette: open, save, rank and energy presets, colour mode, preview modes and views"),
        KeyRow("F1", "this help", (Binding("f1", "help", "help", id="help"),)),
        KeyRow("ctrl+q", "quit", (Binding("ctrl+q", "quit", "quit", priority=True, id="quit"),)),
    )),
)

# The footer shows the app's bindings in this order (F-keys first, then the rank keys).
FOOTER_ORDER = ("help", "open", "save", "mode", "view", "flip", "preset", "energy", "files", "gallery", "curves", "components", "rank-up",
                "rank-down", "rank-up-10", "rank-down-10", "rank-double", "rank-halve", "quit")

# Pan and zoom keys in the order the preview pane declared them (zoom first).
_PREVIEW_ORDER = ("zoom_in", "zoom_out", "zoom_fit", "pan", "go_to_worst", "cycle_view", "toggle_flip", "cycle_gain")


def _declared_at(item: Binding | KeyRow) -> int:
    binding = item.bindings[0] if isinstance(item, KeyRow) else item
    return _PREVIEW_ORDER.index(parse_action(binding.action)[1])


def rows(scope: str | None = None) -> list[KeyRow]:
    """Every row of the table, or those of one scope."""
    return [row for section in TABLE for row in section.rows if scope is None or row.scope == scope]


def bindings(scope: str) -> list[Binding]:
    """The bindings of a scope ("app", "preview", a view's name), in the order their widget declares them."""
    found = [binding for row in rows(scope) for binding in row.bindings]
    if scope == "app":
        return sorted(found, key=lambda b: FOOTER_ORDER.index(b.id))
    if scope == "preview":
        return sorted(found, key=_declared_at)
    return found  # the views declare theirs in the table's order


def rank_field_keys() -> dict[str, tuple[str, tuple]]:
    """key → (app method, arguments) for the keys the rank field hands to the app."""
    keys: dict[str, tuple[str, tuple]] = {}
    for row in rows("app"):
        for binding in [b for b in row.bindings if (b.id or "").startswith("rank-")] + list(row.field):
            _, name, args = parse_action(binding.action)
            for key in binding.key.split(","):
                keys[key] = (f"app.action_{name}", args)
    return keys


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(keys, what), ...]) for the help screen."""
    return [(section.title, [(row.keys, row.what) for row in section.rows]) for section in TABLE]


def pane_hint(scope: str, error_view: bool = False) -> str:
    """The key hints a focused pane shows in its status line."""
    hinted = sorted((row for row in rows(scope) if row.hint), key=_declared_at)
    words = [row.hint for row in hinted] + [row.error_hint for row in hinted if row.error_hint and error_view]
    return "  ".join(words)
