"""nbgitpuller links: the builder and parser (:mod:`.url`), the link pages (:mod:`.pages`) and ``links check`` (:mod:`.check`).

The link builder's API is re-exported here: ``from coursehub.links import build_link``.
"""

from coursehub.links.url import (
    INTERFACES,
    LAUNCHES,
    LAUNCH_ALIASES,
    Link,
    LinkFields,
    REPO_SCHEMES,
    VSCODE_HOME,
    build_link,
    check_branch,
    check_file_path,
    check_hub_url,
    check_repo,
    check_server,
    check_targetpath,
    clone_folder,
    describe_urlpath,
    interface_urlpath,
    link_url,
    parse_link,
)

__all__ = [
    "INTERFACES",
    "LAUNCHES",
    "LAUNCH_ALIASES",
    "Link",
    "LinkFields",
    "REPO_SCHEMES",
    "VSCODE_HOME",
    "build_link",
    "check_branch",
    "check_file_path",
    "check_hub_url",
    "check_repo",
    "check_server",
    "check_targetpath",
    "clone_folder",
    "describe_urlpath",
    "interface_urlpath",
    "link_url",
    "parse_link",
]
