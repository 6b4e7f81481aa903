// `sts get-caller-identity` with the AWS SDK for JavaScript v3, as the compatibility
// tests run it: node whoami.mjs default|chain|container|http|imds
// Prints the caller identity as JSON on stdout; on failure, what the SDK said on stderr.
// The STS endpoint comes from AWS_ENDPOINT_URL_STS, which the SDK reads itself.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import {
  fromContainerMetadata,
  fromHttp,
  fromInstanceMetadata,
  fromNodeProviderChain,
} from "@aws-sdk/credential-providers";

const providers = {
  default: () => undefined,
  chain: () => fromNodeProviderChain(),
  container: () => fromContainerMetadata(),
  http: () => fromHttp(),
  imds: () => fromInstanceMetadata(),
};

const make = providers[process.argv[2]];
if (!make) {
  console.error(`usage: whoami.mjs ${Object.keys(providers).join("|")}`);
  process.exit(2);
}
const credentials = make();
const client = new STSClient(credentials ? { credentials } : {});
try {
  const identity = await client.send(new GetCallerIdentityCommand({}));
  console.log(JSON.stringify({ Arn: identity.Arn, Account: identity.Account }));
} catch (error) {
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
}
