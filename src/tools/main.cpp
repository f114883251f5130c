#include <iostream>
int main() { std::cout << "infera\n"; }
