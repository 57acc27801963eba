"""Questions about a resolved assembly: may this role do that, does this subnet reach that service,
does this key or topic admit that principal.

Every answer is a list of problems (empty means the contract holds), each a sentence a
reviewer can act on, so tests can print all of them at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from posture.contracts.calls import Call, Env, copy_source, needs
from posture.contracts.iam import Request, evaluate, statements_of
from posture.contracts.model import Assembly, Resource, Unresolvable

# ---- roles -----------------------------------------------------------------------------------
# AWS managed policies the templates attach (CDK's own custom-resource roles), as AWS publishes them.
AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"},
    ],
}  # fmt: skip


def role_statements(asm: Assembly, role: Resource) -> list[dict]:
    """Every identity-policy statement of ``role``: attached managed policies (resolved across stacks),
    customer-managed and inline ``AWS::IAM::Policy`` resources naming it, and inline ``Policies``."""
    return asm.memo(("role-statements", role.key), lambda: _role_statements(asm, role))


def _role_statements(asm: Assembly, role: Resource) -> list[dict]:
    props = asm.props(role)
    name = asm.resolve(role.stack, {"Ref": role.logical_id})
    statements: list[dict] = []
    for arn in props.get("ManagedPolicyArns", []):
        policy = asm.find(arn)
        if arn in AWS_MANAGED:
            statements += AWS_MANAGED[arn]
            continue
        if policy is None:
            raise Unresolvable(f"{role.logical_id} attaches {arn}, a policy outside the assembly: model it")
        statements += statements_of(asm.props(policy)["PolicyDocument"])
    for policy in props.get("Policies", []):
        statements += statements_of(policy["PolicyDocument"])
    for cfn_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in asm.resources(cfn_type):
            if name in asm.props(policy).get("Roles", []):
                statements += [s for s in statements_of(asm.props(policy)["PolicyDocument"]) if s not in statements]
    return statements


def role_of_function(asm: Assembly, function: Resource) -> Resource:
    role = asm.find(asm.props(function)["Role"])
    if role is None:
        raise Unresolvable(f"role of {function.logical_id}")
    return role


def function_by_handler(asm: Assembly, handler: str) -> Resource:
    """The one Lambda function whose Handler is ``handler`` (``retraining_guard.handler.lambda_handler``)."""
    (function,) = [f for f in asm.resources("AWS::Lambda::Function") if f.properties.get("Handler") == handler]
    return function


def env_of(asm: Assembly, resource: Resource) -> Env:
    return Env(region=asm.regions[resource.stack], account=asm.account)


def role_allows(asm: Assembly, role: Resource, request: Request) -> bool:
    return evaluate(role_statements(asm, role), request).allowed


# ---- KMS -------------------------------------------------------------------------------------
def key_admits(asm: Assembly, key_arn: str, request: Request, principal: dict[str, str]) -> bool:
    """The key policy lets ``principal`` do ``request`` (an account-root statement delegates to IAM)."""
    key = asm.find(key_arn)
    if key is None or key.type != "AWS::KMS::Key":
        raise Unresolvable(f"{key_arn} is not a key of the assembly")
    statements = statements_of(asm.props(key)["KeyPolicy"])
    return evaluate(statements, Request(request.action, "*", request.context, principal)).allowed


def key_admits_role(asm: Assembly, key_arn: str, request: Request, role: Resource) -> bool:
    return key_admits(asm, key_arn, request, {"AWS": asm.get_att(role.stack, role.logical_id, "Arn")})


def table_key(asm: Assembly, table_name: str) -> str | None:
    """The customer key of the DynamoDB table named ``table_name``, if it has one."""
    table = asm.find(table_name)
    if table is None or not table.type.startswith("AWS::DynamoDB::"):
        return None
    props = asm.props(table)
    for spec in [
        props.get("SSESpecification", {}),
        *(r.get("SSESpecification", {}) for r in props.get("Replicas", [])),
    ]:
        if spec.get("KMSMasterKeyId"):
            return spec["KMSMasterKeyId"]
    return None


_DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


def bucket_key(asm: Assembly, bucket: str) -> str | None:
    """The customer key a bucket of the assembly encrypts new objects with (None: S3-managed or outside)."""
    res = asm.find(bucket)
    if res is None or res.type != "AWS::S3::Bucket":
        return None
    for rule in asm.props(res).get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
        key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        if key:
            return key
    return None


def _s3_key_needs(asm: Assembly, call: Call, env: Env) -> list[tuple[str, Request]]:
    """S3 decrypts what it reads and generates a data key for what it writes, under the bucket's default key."""
    params = call.params
    touched = []  # (bucket, action)
    if call.operation in ("GetObject", "HeadObject"):
        touched.append((params["Bucket"], "kms:Decrypt"))
    if call.operation == "CopyObject":
        touched.append((copy_source(params)[0], "kms:Decrypt"))
    if call.operation in ("PutObject", "CopyObject"):
        touched.append((params["Bucket"], "kms:GenerateDataKey"))
    via = {"kms:ViaService": f"s3.{env.region}.amazonaws.com", "kms:CallerAccount": env.account}
    return [
        (key, Request(action, key, {**env.base_context(), **via}))
        for bucket, action in touched
        if (key := bucket_key(asm, bucket))
    ]


def derived_key_needs(asm: Assembly, call: Call, env: Env) -> list[tuple[str, Request]]:
    """(key ARN, request) a call makes KMS evaluate on the caller's behalf (a CMK-encrypted table or bucket)."""
    if call.service == "s3":
        return _s3_key_needs(asm, call, env)
    if call.service != "dynamodb" or "TableName" not in call.params:
        return []
    key = table_key(asm, call.params["TableName"])
    if key is None:
        return []
    via = {"kms:ViaService": f"dynamodb.{env.region}.amazonaws.com", "kms:CallerAccount": env.account}
    # As CDK's grantReadData / grantWriteData: reads decrypt, writes also generate data keys.
    actions = ["kms:Decrypt"] if call.operation in _DYNAMODB_READS else ["kms:Decrypt", "kms:GenerateDataKey"]
    return [(key, Request(a, key, {**env.base_context(), **via})) for a in actions]


# ---- network ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    protocol: str
    from_port: int
    to_port: int
    cidr: str | None
    group: str | None
    prefix_list: str | None

    def carries_https(self) -> bool:
        return self.protocol in ("-1", "all") or (
            self.protocol in ("tcp", "6") and self.from_port <= 443 <= self.to_port
        )


def _rule(raw: dict, peer_group_key: str) -> Rule:
    return Rule(
        str(raw.get("IpProtocol")),
        int(raw.get("FromPort", 0) if raw.get("FromPort", -1) != -1 else 0),
        int(raw.get("ToPort", 65535) if raw.get("ToPort", -1) != -1 else 65535),
        raw.get("CidrIp"),
        raw.get(peer_group_key),
        raw.get("DestinationPrefixListId"),
    )


def group_rules(asm: Assembly, group_id: str, direction: str) -> list[Rule]:
    """``direction`` is ``Egress`` or ``Ingress``; inline rules and standalone rule resources."""
    peer = "DestinationSecurityGroupId" if direction == "Egress" else "SourceSecurityGroupId"
    group = asm.find(group_id)
    rules = []
    if group is not None:
        declared = asm.props(group).get(f"SecurityGroup{direction}")
        rules += [_rule(r, peer) for r in declared or []]
        if direction == "Egress" and not declared:
            # A group created without egress rules gets EC2's default rule: all traffic anywhere.
            rules.append(Rule("-1", 0, 65535, "0.0.0.0/0", None, None))
    for res in asm.resources(f"AWS::EC2::SecurityGroup{direction}"):
        props = asm.props(res)
        if props.get("GroupId") == group_id:
            rules.append(_rule(props, peer))
    return rules


def _covers(cidr: str | None, inner: str) -> bool:
    if cidr is None:
        return False
    return ipaddress.ip_network(inner).subnet_of(ipaddress.ip_network(cidr))  # type: ignore[arg-type]


def _subnet(asm: Assembly, subnet_id: str) -> Resource:
    subnet = asm.find(subnet_id)
    if subnet is None or subnet.type != "AWS::EC2::Subnet":
        raise Unresolvable(f"subnet {subnet_id}")
    return subnet


def _route_tables(asm: Assembly, subnet_id: str) -> set[str]:
    return {
        asm.props(a)["RouteTableId"]
        for a in asm.resources("AWS::EC2::SubnetRouteTableAssociation")
        if asm.props(a).get("SubnetId") == subnet_id
    }


def _has_nat(asm: Assembly, tables: set[str]) -> bool:
    # An internet gateway route does not count: a Lambda or SageMaker interface never has a public address.
    return any(
        asm.props(r).get("RouteTableId") in tables and asm.props(r).get("NatGatewayId")
        for r in asm.resources("AWS::EC2::Route")
    )


# botocore endpoint prefix -> the VPC endpoint service name after com.amazonaws.<region>.
ENDPOINT_SERVICES = {
    "api.sagemaker": "sagemaker.api",
    "runtime.sagemaker": "sagemaker.runtime",
    "kinesis": "kinesis-streams",
    "firehose": "kinesis-firehose",
}


def reaches(
    asm: Assembly,
    subnets: Iterable[str],
    groups: Iterable[str],
    endpoint_prefix: str,
    requests: Iterable[Request] = (),
    principal: dict[str, str] | None = None,
) -> list[str]:
    """Why a network interface in ``subnets`` with ``groups`` cannot reach ``endpoint_prefix``'s API over
    HTTPS, or [] when it can: through a gateway endpoint on its route tables, an interface endpoint
    with private DNS in its VPC whose security group admits it, or a NAT route. Nothing else is assumed.
    An endpoint with a policy carries ``requests`` (made by ``principal``) only if its policy allows them."""
    service = ENDPOINT_SERVICES.get(endpoint_prefix, endpoint_prefix)
    subnets, groups, requests = list(subnets), list(groups), list(requests)
    problems = []
    egress = [r for g in groups for r in group_rules(asm, g, "Egress") if r.carries_https()]
    for subnet_id in subnets:
        subnet = asm.props(_subnet(asm, subnet_id))
        tables = _route_tables(asm, subnet_id)
        endpoints = [
            e
            for e in asm.resources("AWS::EC2::VPCEndpoint")
            if asm.props(e)["VpcId"] == subnet["VpcId"] and asm.props(e)["ServiceName"].endswith(f".{service}")
        ]
        ok = False
        for endpoint in endpoints:
            props = asm.props(endpoint)
            if props.get("PolicyDocument") and not _endpoint_policy_allows(
                props["PolicyDocument"], requests, principal
            ):
                continue
            if props.get("VpcEndpointType", "Gateway") == "Gateway":
                # Gateway endpoints route to the service's public addresses: egress must allow them.
                if set(props.get("RouteTableIds", [])) & tables and any(
                    r.cidr == "0.0.0.0/0" or r.prefix_list for r in egress
                ):
                    ok = True
                continue
            if not props.get("PrivateDnsEnabled"):
                continue
            endpoint_cidrs = [asm.props(_subnet(asm, s))["CidrBlock"] for s in props.get("SubnetIds", [])]
            out = any(r.group in props.get("SecurityGroupIds", []) or all(_covers(r.cidr, c) for c in endpoint_cidrs)
                      for r in egress)  # fmt: skip
            ingress = [r for g in props.get("SecurityGroupIds", []) for r in group_rules(asm, g, "Ingress")]
            admitted = any(
                r.carries_https() and (r.group in groups or _covers(r.cidr, subnet["CidrBlock"])) for r in ingress
            )
            ok = ok or (out and admitted)
        if not ok and _has_nat(asm, tables) and any(r.cidr == "0.0.0.0/0" for r in egress):
            ok = True
        if not ok:
            problems.append(
                f"subnet {subnet_id} cannot reach {service}: "
                + (
                    "no VPC endpoint for it and no NAT"
                    if not endpoints
                    else "an endpoint exists but routing or security-group rules do not let HTTPS through"
                )
            )
    return problems


def _endpoint_policy_allows(document: dict, requests: list[Request], principal: dict[str, str] | None) -> bool:
    statements = statements_of(document)
    who = principal or {"AWS": "*"}
    return all(evaluate(statements, Request(r.action, r.resource, r.context, who)).allowed for r in requests)


def function_reaches(asm: Assembly, function: Resource, endpoint_prefix: str, requests: Iterable[Request] = ()) -> list[str]:  # fmt: skip
    vpc = asm.props(function).get("VpcConfig")
    if not vpc or not vpc.get("SubnetIds"):
        return []  # outside a VPC, Lambda reaches public AWS endpoints
    role = role_of_function(asm, function)
    principal = {"AWS": asm.get_att(role.stack, role.logical_id, "Arn")}
    return reaches(asm, vpc["SubnetIds"], vpc.get("SecurityGroupIds", []), endpoint_prefix, requests, principal)


# ---- one recorded call, every contract -------------------------------------------------------
def call_problems(asm: Assembly, function: Resource, call: Call) -> list[str]:
    """Everything that would stop ``call``, made by ``function``'s code, from working on AWS."""
    env = env_of(asm, function)
    role = role_of_function(asm, function)
    label = f"{function.logical_id} {call.service}.{call.operation}"
    problems = []
    for request in needs(call, env):
        if not role_allows(asm, role, request):
            problems.append(f"{label}: role {role.logical_id} does not allow {request.action} on {request.resource}")
    for key, request in derived_key_needs(asm, call, env):
        if not role_allows(asm, role, request):
            problems.append(f"{label}: role {role.logical_id} does not allow {request.action} on key {key}")
        if not key_admits_role(asm, key, request, role):
            problems.append(f"{label}: key policy of {key} does not admit {request.action} by {role.logical_id}")
    for request in needs(call, env):
        grant = request.action in ("kms:CreateGrant", "kms:DescribeKey") and asm.find(request.resource)
        if grant and not key_admits_role(asm, request.resource, request, role):
            problems.append(f"{label}: key policy of {request.resource} does not admit {request.action}")
    api_requests = [r for r in needs(call, env) if r.action.split(":")[0] == call.service or call.service == "s3"]
    problems += [f"{label}: {p}" for p in function_reaches(asm, function, call.endpoint_prefix, api_requests)]
    return problems
