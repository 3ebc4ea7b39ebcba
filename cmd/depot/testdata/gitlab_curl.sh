# curl lines from GitLab's generic packages and Packages API docs, pasted
# as a user would, with only the host, the ids and the tokens filled in:
# https://gitlab.example.com -> $GITLAB, <your_access_token> -> $TOKEN,
# 24/1/:id -> $PROJECT_ID, <deploy_token> -> $DEPLOY_TOKEN,
# $CI_JOB_TOKEN, ${CI_API_V4_URL} and ${CI_PROJECT_ID} as CI sets them.
# Each command's output is checked by the Go test, in order, separated by
# lines "--- <n>".
set -eu
cd "$WORKDIR"
mkdir -p path/to
printf 'hello from curl\n' > path/to/file.txt

echo "--- 1"
curl --fail-with-body --header "PRIVATE-TOKEN: $TOKEN" \
     --upload-file path/to/file.txt \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.1/file.txt"
echo
echo "--- 2"
curl --fail-with-body --header "PRIVATE-TOKEN: $TOKEN" \
     --upload-file path/to/file.txt \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.1/file.txt?select=package_file"
echo
echo "--- 3"
curl --fail-with-body --header "PRIVATE-TOKEN: $TOKEN" \
     --upload-file path/to/file.txt \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.2/file.txt?status=hidden"
echo
echo "--- 4"
curl --fail-with-body --header "JOB-TOKEN: $CI_JOB_TOKEN" \
     --upload-file path/to/file.txt \
     "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.3/file.txt"
echo
echo "--- 5"
curl --fail-with-body --user "anyone:$TOKEN" \
     --upload-file path/to/file.txt \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.4/file.txt"
echo
echo "--- 6"
curl --fail-with-body --header "PRIVATE-TOKEN: $TOKEN" \
     --location \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.1/file.txt" \
     --output file.txt
cat file.txt
echo "--- 7"
curl --fail-with-body --header "DEPLOY-TOKEN: $DEPLOY_TOKEN" \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/generic/my_package/0.0.1/file.txt"
echo "--- 8"
curl --header "PRIVATE-TOKEN: $TOKEN" "$GITLAB/api/v4/projects/$PROJECT_ID/packages"
echo
echo "--- 9"
curl --header "PRIVATE-TOKEN: $TOKEN" "$GITLAB/api/v4/groups/$GROUP/packages?exclude_subgroups=false"
echo
echo "--- 10"
curl --header "PRIVATE-TOKEN: $TOKEN" "$GITLAB/api/v4/projects/$PROJECT_ID/packages/$PACKAGE_ID/package_files"
echo
echo "--- 11"
curl --request DELETE --header "PRIVATE-TOKEN: $TOKEN" --write-out '%{http_code}' \
     "$GITLAB/api/v4/projects/$PROJECT_ID/packages/$PACKAGE_ID"
echo
