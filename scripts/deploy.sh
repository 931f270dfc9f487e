#!/usr/bin/env bash
# Deploy CloudShelf to AWS in one command: the CDK stacks of one growth phase, then the release's
# migrations and static files (docs/deploy.md, README "Deploy").
#
#   scripts/deploy.sh PHASE [--compute lambda|fargate] [--dry-run]
#
#   PHASE       mvp, growth or scale (infra/cloudshelf_infra/phases.py)
#   --compute   lambda (the architecture document's shape, default) or fargate (the container shape)
#   --dry-run   check the arguments and print every command instead of running it (no AWS needed)
#
# Optional environment: CERTIFICATE_ARN + DOMAIN_NAME (HTTPS on the ALB, the site's own name on
# CloudFront), ALARM_EMAIL (alarm subscriptions), APPROVAL (cdk's --require-approval: "broadening",
# the default, stops for a yes before any IAM or security-group widening; "never" for CI),
# STAFF_EMAIL [+ STAFF_USERNAME, default admin] (the first staff user, made once with
# `create_staff_user`; its password is the App stack's generated secret, StaffPasswordSecretArn).
#
# Order and why: `cdk deploy --all` creates or updates Network -> Data -> Edge -> App (CloudFormation
# rolls a failed stack back by itself), and the new code serves as soon as App is updated; then
# `migrate` and `collectstatic` run once, in AWS, with the app's own role. So a release's migrations
# must work with the code that was running before it (add first, remove in a later release), and
# templates only link static names that `collectstatic` uploads in the same step. Rolling back is
# deploying the previous release's commit the same way (README "Deploy": "Rolling back").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	echo "usage: scripts/deploy.sh mvp|growth|scale [--compute lambda|fargate] [--dry-run]" >&2
	exit 2
}

phase="" compute=lambda dry_run=0
while (($#)); do
	case $1 in
	mvp | growth | scale) [[ -z $phase ]] || usage; phase=$1 ;;
	--compute)
		(($# >= 2)) || usage
		compute=$2
		shift
		;;
	--dry-run) dry_run=1 ;;
	*) usage ;;
	esac
	shift
done
[[ -n $phase ]] || usage
[[ $compute == lambda || $compute == fargate ]] || usage
approval=${APPROVAL:-broadening}
[[ $approval == broadening || $approval == never || $approval == any-change ]] || {
	echo "deploy: APPROVAL must be broadening, never or any-change (got '$approval')" >&2
	exit 2
}
if [[ -n ${CERTIFICATE_ARN:-} || -n ${DOMAIN_NAME:-} ]] && [[ -z ${CERTIFICATE_ARN:-} || -z ${DOMAIN_NAME:-} ]]; then
	echo "deploy: CERTIFICATE_ARN and DOMAIN_NAME go together: set both or neither" >&2
	exit 2
fi
staff_username=${STAFF_USERNAME:-admin}
if [[ -n ${STAFF_EMAIL:-} ]]; then
	# Checked here, before anything runs: both travel inside a JSON payload and a command line.
	[[ $STAFF_EMAIL =~ ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$ && ${#STAFF_EMAIL} -le 254 ]] || {
		echo "deploy: STAFF_EMAIL must be an e-mail address (got '${STAFF_EMAIL:0:100}')" >&2
		exit 2
	}
	[[ $staff_username =~ ^[A-Za-z0-9@.+_][A-Za-z0-9@.+_-]{0,149}$ ]] || {
		echo "deploy: STAFF_USERNAME may hold letters, digits and @.+-_ only (not a leading -), at most 150 (got '${staff_username:0:100}')" >&2
		exit 2
	}
fi

run() {
	printf '+ %q' "$1" >&2
	shift
	printf ' %q' "$@" >&2
	printf '\n' >&2
	((dry_run)) || "$@"
}

context=(-c "phase=$phase" -c "compute=$compute")
[[ -z ${CERTIFICATE_ARN:-} ]] || context+=(-c "certificate_arn=$CERTIFICATE_ARN" -c "domain_name=$DOMAIN_NAME")
[[ -z ${ALARM_EMAIL:-} ]] || context+=(-c "alarm_email=$ALARM_EMAIL")
app_stack="CloudShelf-$phase-App"
export CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

if ((!dry_run)); then
	for tool in aws docker; do
		command -v "$tool" >/dev/null || {
			echo "deploy: '$tool' is required (docs/deploy.md, prerequisites)" >&2
			exit 1
		}
	done
	aws sts get-caller-identity --query Account --output text >/dev/null || {
		echo "deploy: no working AWS credentials (aws configure, or AWS_PROFILE)" >&2
		exit 1
	}
	"$ROOT/scripts/tools.sh" cdk
fi

cdk=(node_modules/.bin/cdk)
cd "$ROOT/infra"
# Once per account and region: the bucket and repository CDK publishes the image assets to.
run "${cdk[@]}" bootstrap "${context[@]}"
run "${cdk[@]}" deploy --all "${context[@]}" --require-approval "$approval" --outputs-file "$ROOT/var/deploy-$phase-outputs.json"

output() { # the App stack's output $1
	aws cloudformation describe-stacks --stack-name "$app_stack" \
		--query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# The deploy's commands, in order; the first staff user only when STAFF_EMAIL names one (made
# once: later deploys leave it alone).
commands=(migrate collectstatic)
[[ -z ${STAFF_EMAIL:-} ]] || commands+=("create_staff_user --username $staff_username --email $STAFF_EMAIL")

if [[ $compute == lambda ]]; then
	response=$(mktemp)
	trap 'rm -f "$response"' EXIT
	function_name=$( ((dry_run)) && echo '<ManageFunctionName>' || output ManageFunctionName)
	for command in "${commands[@]}"; do
		read -ra words <<<"$command"
		payload="{\"command\": \"${words[0]}\""
		if ((${#words[@]} > 1)); then
			payload+=', "args": ['$(printf '"%s",' "${words[@]:1}")
			payload="${payload%,}]"
		fi
		payload+="}"
		# `aws lambda invoke` exits 0 when the function raised: the error is in FunctionError,
		# and what the command printed (or its traceback) in the response file.
		failure=$(run aws lambda invoke --function-name "$function_name" --cli-read-timeout 900 \
			--cli-binary-format raw-in-base64-out --payload "$payload" \
			--query FunctionError --output text "$response")
		((dry_run)) && continue
		cat "$response" >&2
		echo >&2
		[[ $failure == None ]] || {
			echo "deploy: '${words[0]}' failed in the manage function ($failure): see its answer above" >&2
			exit 1
		}
	done
else
	cluster=$( ((dry_run)) && echo '<ClusterName>' || output ClusterName)
	task_definition=$( ((dry_run)) && echo '<ManageTaskDefinition>' || output ManageTaskDefinition)
	network=$( ((dry_run)) && echo '<TaskNetworkConfiguration>' || output TaskNetworkConfiguration)
	for command in "${commands[@]}"; do
		[[ $command == migrate ]] || command="manage $command"
		[[ $command != "manage collectstatic" ]] || command+=" --no-input"
		read -ra words <<<"$command"
		overrides='{"containerOverrides":[{"name":"manage","command":['
		overrides+=$(printf '"%s",' "${words[@]}")
		overrides="${overrides%,}]}]}"
		task_run=(aws ecs run-task --cluster "$cluster" --task-definition "$task_definition" --launch-type FARGATE
			--network-configuration "$network" --overrides "$overrides" --query 'tasks[0].taskArn' --output text)
		if ((dry_run)); then
			run "${task_run[@]}"
			run aws ecs wait tasks-stopped --cluster "$cluster" --tasks '<task>'
			continue
		fi
		task=$(run "${task_run[@]}")
		run aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
		code=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
			--query 'tasks[0].containers[0].exitCode' --output text)
		[[ $code == 0 ]] || {
			echo "deploy: '$command' exited $code: see the task's log group" >&2
			exit 1
		}
	done
fi
if [[ -n ${STAFF_EMAIL:-} ]]; then
	echo "deploy: the staff user '$staff_username' signs in at /admin/ with the password in the secret" \
		"StaffPasswordSecretArn (aws secretsmanager get-secret-value --secret-id <arn> --query SecretString)." >&2
fi
echo "deploy: CloudShelf $phase ($compute) is deployed$( ((dry_run)) && echo ' (dry run: nothing was run)')." >&2
