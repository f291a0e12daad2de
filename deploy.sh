#!/usr/bin/env bash
# Build the HeartEye image, push it to Azure Container Registry, and (re)create the Azure
# Container Instance that runs it. Secrets are passed as *secure* environment variables:
# they are not shown by `az container show` nor stored in this script or the repo.
#
# Prerequisites: Azure CLI logged in (`az login`), a resource group, a registry, a PostgreSQL
# database reachable from Azure, and S3-compatible storage (Supabase, MinIO, AWS) or an Azure
# Files share for the uploads: a container's own disk is lost on every re-create.
#
# Usage:  set the variables below in the environment (or in a file given as $1), then
#           ./deploy.sh            # or: ./deploy.sh deploy.env
#
# Required
#   AZ_RESOURCE_GROUP      resource group of the registry and the container
#   ACR_NAME               registry name (without .azurecr.io)
#   DATABASE_URL           postgresql://user:password@host:5432/db   (secure)
#   JWT_SECRET_KEY         >= 32 random characters                  (secure)
#   SECRET_KEY             >= 32 random characters, not the JWT one (secure)
# Optional (defaults in brackets)
#   AZ_LOCATION            [the resource group's location]
#   ACI_NAME               container group name                       [hearteye]
#   DNS_LABEL              public DNS label: <label>.<region>.azurecontainer.io [$ACI_NAME]
#   IMAGE_NAME             repository in the registry                 [hearteye]
#   IMAGE_TAG              [git short SHA, or a timestamp outside git]
#   BUILD_MODE             acr: build in the registry (no local Docker) | docker: build and
#                          push with the local Docker daemon           [acr]
#   ACI_CPU / ACI_MEMORY   cores / GiB                                 [2 / 4]
#   WORKERS                gunicorn workers                            [$ACI_CPU]
#   CORS_ORIGINS           comma-separated front-end origins           [none]
#   PUBLIC_BASE_URL        external URL for plot links  [http://<DNS_LABEL>.<region>.azurecontainer.io:8000]
#   REDIS_URL              shared rate limits and token revocation     (secure) [none]
#   S3_BUCKET, S3_ENDPOINT_URL, S3_REGION, S3_PREFIX, S3_ACCESS_KEY_ID (secure),
#   S3_SECRET_ACCESS_KEY (secure), or SUPABASE_URL + SUPABASE_BUCKET_NAME: object storage
#   AZURE_FILES_ACCOUNT, AZURE_FILES_KEY (secure), AZURE_FILES_SHARE: mount a share at /data
#                          instead of object storage
#   ACR_USERNAME / ACR_PASSWORD  pull credentials [the registry's admin credentials]
set -euo pipefail

if [[ $# -ge 1 ]]; then
  # shellcheck disable=SC1090
  set -a; source "$1"; set +a
fi

die() { echo "deploy.sh: $*" >&2; exit 1; }
need() { [[ -n "${!1:-}" ]] || die "set $1 (see the header of this script)"; }

command -v az >/dev/null || die "the Azure CLI (az) is not installed"
for v in AZ_RESOURCE_GROUP ACR_NAME DATABASE_URL JWT_SECRET_KEY SECRET_KEY; do need "$v"; done
(( ${#JWT_SECRET_KEY} >= 32 )) || die "JWT_SECRET_KEY must be at least 32 characters"
(( ${#SECRET_KEY} >= 32 )) || die "SECRET_KEY must be at least 32 characters"
[[ "$JWT_SECRET_KEY" != "$SECRET_KEY" ]] || die "JWT_SECRET_KEY and SECRET_KEY must differ"
if [[ -z "${S3_BUCKET:-}${SUPABASE_BUCKET_NAME:-}" && -z "${AZURE_FILES_SHARE:-}" ]]; then
  die "uploads need persistent storage: set S3_BUCKET (or SUPABASE_URL and SUPABASE_BUCKET_NAME) or AZURE_FILES_SHARE"
fi

cd "$(dirname "$0")"
ACI_NAME="${ACI_NAME:-hearteye}"
DNS_LABEL="${DNS_LABEL:-$ACI_NAME}"
IMAGE_NAME="${IMAGE_NAME:-hearteye}"
IMAGE_TAG="${IMAGE_TAG:-$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)}"
BUILD_MODE="${BUILD_MODE:-acr}"
ACI_CPU="${ACI_CPU:-2}"
ACI_MEMORY="${ACI_MEMORY:-4}"
WORKERS="${WORKERS:-$ACI_CPU}"
AZ_LOCATION="${AZ_LOCATION:-$(az group show --name "$AZ_RESOURCE_GROUP" --query location -o tsv)}"
LOGIN_SERVER="$(az acr show --name "$ACR_NAME" --resource-group "$AZ_RESOURCE_GROUP" \
  --query loginServer -o tsv)"
IMAGE="$LOGIN_SERVER/$IMAGE_NAME:$IMAGE_TAG"
PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$DNS_LABEL.$AZ_LOCATION.azurecontainer.io:8000}"

echo "==> building $IMAGE ($BUILD_MODE)"
case "$BUILD_MODE" in
  acr)
    # Builds in the registry and pushes there: no local Docker daemon needed.
    az acr build --registry "$ACR_NAME" --resource-group "$AZ_RESOURCE_GROUP" \
      --image "$IMAGE_NAME:$IMAGE_TAG" --image "$IMAGE_NAME:latest" .
    ;;
  docker)
    az acr login --name "$ACR_NAME"
    docker build -t "$IMAGE" -t "$LOGIN_SERVER/$IMAGE_NAME:latest" .
    docker push "$IMAGE"
    docker push "$LOGIN_SERVER/$IMAGE_NAME:latest"
    ;;
  *) die "BUILD_MODE must be 'acr' or 'docker'" ;;
esac

if [[ -z "${ACR_USERNAME:-}" || -z "${ACR_PASSWORD:-}" ]]; then
  ACR_USERNAME="$(az acr credential show --name "$ACR_NAME" --query username -o tsv)" \
    || die "no pull credentials: enable the registry's admin user or set ACR_USERNAME/ACR_PASSWORD"
  ACR_PASSWORD="$(az acr credential show --name "$ACR_NAME" --query 'passwords[0].value' -o tsv)"
fi

# Plain settings (visible in the portal) and secrets (secure: write-only).
env_vars=(
  "HEARTEYE_ENV=production"
  "HEARTEYE_DATA_DIR=/data"
  "PUBLIC_BASE_URL=$PUBLIC_BASE_URL"
)
secure_vars=(
  "DATABASE_URL=$DATABASE_URL"
  "JWT_SECRET_KEY=$JWT_SECRET_KEY"
  "SECRET_KEY=$SECRET_KEY"
)
for v in CORS_ORIGINS S3_BUCKET S3_ENDPOINT_URL S3_REGION S3_PREFIX SUPABASE_URL \
         SUPABASE_BUCKET_NAME MAX_UPLOAD_MB PLOT_URL_TTL LOG_LEVEL; do
  if [[ -n "${!v:-}" ]]; then env_vars+=("$v=${!v}"); fi
done
for v in S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY REDIS_URL; do
  if [[ -n "${!v:-}" ]]; then secure_vars+=("$v=${!v}"); fi
done

volume_args=()
if [[ -n "${AZURE_FILES_SHARE:-}" ]]; then
  need AZURE_FILES_ACCOUNT; need AZURE_FILES_KEY
  volume_args=(
    --azure-file-volume-account-name "$AZURE_FILES_ACCOUNT"
    --azure-file-volume-account-key "$AZURE_FILES_KEY"
    --azure-file-volume-share-name "$AZURE_FILES_SHARE"
    --azure-file-volume-mount-path /data
  )
fi

# Re-create rather than update: ACI cannot change most properties of a running group.
if az container show --resource-group "$AZ_RESOURCE_GROUP" --name "$ACI_NAME" \
    --query name -o tsv >/dev/null 2>&1; then
  echo "==> deleting the running container group $ACI_NAME"
  az container delete --resource-group "$AZ_RESOURCE_GROUP" --name "$ACI_NAME" --yes \
    --output none
fi

echo "==> creating $ACI_NAME from $IMAGE"
az container create \
  --resource-group "$AZ_RESOURCE_GROUP" \
  --name "$ACI_NAME" \
  --location "$AZ_LOCATION" \
  --image "$IMAGE" \
  --os-type Linux \
  --cpu "$ACI_CPU" \
  --memory "$ACI_MEMORY" \
  --ports 8000 \
  --ip-address Public \
  --dns-name-label "$DNS_LABEL" \
  --restart-policy Always \
  --registry-login-server "$LOGIN_SERVER" \
  --registry-username "$ACR_USERNAME" \
  --registry-password "$ACR_PASSWORD" \
  --command-line "hearteye serve --host 0.0.0.0 --port 8000 --workers $WORKERS" \
  --environment-variables "${env_vars[@]}" \
  --secure-environment-variables "${secure_vars[@]}" \
  ${volume_args[@]+"${volume_args[@]}"} \
  --output none

echo "==> waiting for $PUBLIC_BASE_URL/ready"
for _ in $(seq 1 60); do
  if curl -fsS "$PUBLIC_BASE_URL/ready" >/dev/null 2>&1; then
    echo "HeartEye is up: $PUBLIC_BASE_URL (API docs: $PUBLIC_BASE_URL/docs)"
    exit 0
  fi
  sleep 5
done
az container logs --resource-group "$AZ_RESOURCE_GROUP" --name "$ACI_NAME" | tail -n 50 >&2 || true
die "the service did not become ready within 5 minutes (logs above)"
