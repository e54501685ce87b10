// ESLint flat config. The randomness rules below are dpkit's privacy policy, enforced at build
// time: privacy noise comes only from src/random (crypto.getRandomValues and exact samplers).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const insecure =
  "Privacy noise must come from dpkit's secure samplers (src/random). Math.random and tf.random* are seeded from Math.random and float32.";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "docs/api/**",
      "node_modules/**",
      "coverage/**",
      "bench/out/**",
      "notebooks/**",
      ".tmp/**",
      "test/docs/.run/**",
      "src/federated/flower/gen/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        globalThis: "readonly",
        performance: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setImmediate: "readonly",
        URL: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: insecure },
        { object: "tf", property: "randomNormal", message: insecure },
        { object: "tf", property: "randomUniform", message: insecure },
        { object: "tf", property: "randomGamma", message: insecure },
        { object: "tf", property: "randomStandardNormal", message: insecure },
        { object: "tf", property: "truncatedNormal", message: insecure },
        { object: "tf", property: "multinomial", message: insecure },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "MemberExpression[property.name=/^random(Normal|Uniform|Gamma|StandardNormal|UniformInt)$/]", message: insecure },
        {
          selector:
            "ImportSpecifier[imported.name=/^(random(Normal|Uniform|Gamma|StandardNormal|UniformInt)|truncatedNormal|multinomial)$/]",
          message: insecure,
        },
        // Math under another name (`const M = Math; M.random()`, `const { random } = Math`, globalThis.Math),
        // and `x["random"]`: any `.random` member is refused in src.
        { selector: "VariableDeclarator[init.type='Identifier'][init.name='Math']", message: insecure },
        { selector: "AssignmentExpression[right.type='Identifier'][right.name='Math']", message: insecure },
        { selector: "MemberExpression[property.name='random']", message: insecure },
        {
          selector: "MemberExpression[computed=true][property.value=/^(random|truncatedNormal|randomNormal|randomUniform)$/]",
          message: insecure,
        },
        // tfjs initializers draw from tfjs's Math.random-seeded generator: tf.initializers.truncatedNormal(...)
        // and the same names given as strings (`kernelInitializer: "randomNormal"`).
        { selector: "MemberExpression[property.name=/^(truncatedNormal|multinomial)$/]", message: insecure },
        { selector: "Property[key.name=/Initializer$/][value.value=/^(randomNormal|randomUniform|truncatedNormal)$/]", message: insecure },
      ],
    },
  },
  {
    // random-js (MT19937) is predictable: only the seeded test source in src/random may use it.
    files: ["src/**/*.ts"],
    ignores: ["src/random/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "random-js", message: "Use dpkit's Rng (src/random); random-js is insecure." }] },
      ],
    },
  },
);
