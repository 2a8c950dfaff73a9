// Compiles TestUSDC.sol with the pinned solc (package.json) into TestUSDC.json: the ABI and the
// runtime code the tests place at USDC's address. `node compile.js --check` fails when the
// committed TestUSDC.json is not what the source compiles to.
import { readFileSync, writeFileSync } from 'node:fs';
import solc from 'solc';

const source = readFileSync(new URL('./TestUSDC.sol', import.meta.url), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'TestUSDC.sol': { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { TestUSDC: ['abi', 'evm.deployedBytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
const contract = output.contracts['TestUSDC.sol'].TestUSDC;
const compiled = JSON.stringify(
  { compiler: solc.version(), abi: contract.abi, runtime: `0x${contract.evm.deployedBytecode.object}` },
  null,
  2,
) + '\n';
const path = new URL('./TestUSDC.json', import.meta.url);
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== compiled) {
    console.error('TestUSDC.json is not what TestUSDC.sol compiles to: run `node compile.js`');
    process.exit(1);
  }
  console.log('TestUSDC.json matches TestUSDC.sol');
} else {
  writeFileSync(path, compiled);
  console.log(`wrote TestUSDC.json (${contract.evm.deployedBytecode.object.length / 2} bytes of runtime code)`);
}
