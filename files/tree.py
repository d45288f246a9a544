"""A step's flat list of paths as a folder tree, folders first, for the Files tab."""

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Node:
    name: str
    path: str = ""  # set on files only
    size: int = 0
    children: list["Node"] = field(default_factory=list)

    @property
    def is_folder(self) -> bool:
        return not self.path


def path_tree(files: Sequence[tuple[str, object, int]]) -> list[Node]:
    """``files`` are (path, content id, size) rows as ``state_files`` returns them."""
    root = Node(name="")
    for path, _content, size in files:
        *folders, name = path.split("/")
        node = root
        for folder in folders:
            node = _folder(node, folder)
        node.children.append(Node(name=name, path=path, size=size))
    _sort(root)
    return root.children


def _folder(parent: Node, name: str) -> Node:
    for child in parent.children:
        if child.is_folder and child.name == name:
            return child
    child = Node(name=name)
    parent.children.append(child)
    return child


def _sort(node: Node) -> None:
    node.children.sort(key=lambda child: (not child.is_folder, child.name))
    for child in node.children:
        _sort(child)
