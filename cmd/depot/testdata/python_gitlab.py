"""Drives depot with python-gitlab (Debian's python3-gitlab).

Usage: python_gitlab.py BASE_URL TOKEN PROJECT_PATH WORKDIR
Prints "ok" when every check passed; exits non-zero otherwise.
"""
import hashlib
import os
import sys

import gitlab

base, token, project_path, workdir = sys.argv[1:5]
gl = gitlab.Gitlab(base, private_token=token, per_page=2)
gl.auth()
assert gl.user.username == "alice", gl.user.username

project = gl.projects.get(project_path)
assert project.path_with_namespace == project_path, project.path_with_namespace

versions = ["1.0.0", "1.1.0", "2.0.0"]
for v in versions:
    path = os.path.join(workdir, "tool-" + v + ".bin")
    with open(path, "wb") as f:
        f.write(("python " + v).encode())
    pkg = project.generic_packages.upload(
        package_name="pytool", package_version=v, file_name="tool.bin", path=path)
    assert pkg.message == "201 Created", pkg.attributes

data = project.generic_packages.download(
    package_name="pytool", package_version="1.1.0", file_name="tool.bin")
assert data == b"python 1.1.0", data

# Listing across pages (per_page=2) with get_all.
listed = project.packages.list(get_all=True, package_name="pytool")
assert [p.version for p in listed] == versions, [p.version for p in listed]
assert all(p.package_type == "generic" for p in listed)

page = project.packages.list(page=2, package_name="pytool")
assert [p.version for p in page] == ["2.0.0"], [p.version for p in page]

files = listed[0].package_files.list()
assert len(files) == 1 and files[0].file_name == "tool.bin", files
assert files[0].file_sha256 == hashlib.sha256(b"python 1.0.0").hexdigest()

group_pkgs = gl.groups.get(project_path.split("/")[0]).packages.list(get_all=True)
assert {p.version for p in group_pkgs} >= set(versions), group_pkgs

project.packages.delete(listed[0].id)
left = project.packages.list(get_all=True, package_name="pytool")
assert [p.version for p in left] == versions[1:], [p.version for p in left]

try:
    project.generic_packages.download(
        package_name="pytool", package_version="1.0.0", file_name="tool.bin")
    raise AssertionError("download of a deleted package succeeded")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code

print("ok")
