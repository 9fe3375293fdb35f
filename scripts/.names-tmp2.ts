import ts from 'typescript';
import { readFileSync } from 'node:fs';
const file = process.argv[2]!;
const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
const visit = (n: ts.Node) => {
  if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && ['test', 'it'].includes(n.expression.text)) {
    const a = n.arguments[0];
    if (a && ts.isStringLiteralLike(a)) console.log(a.text);
  }
  ts.forEachChild(n, visit);
};
visit(sf);
